"""A plain reply sent while its transaction commits (bot/outbox/early.py), on both databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.config import OutboxSettings
from bot.matrix.content import message_content
from bot.outbox import Failure, Outbox, SendError
from bot.storage import Database
from bot.storage.models import KeyValue, OutboxMessage
from bot.storage.sqlite_driver import has_written
from tests.unit.test_outbox import ROOM, FakeTransport, rows


class WatchingTransport(FakeTransport):
    """Also records how many outbox rows another connection saw when each send began."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db
        self.visible: list[int] = []

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        async with self.db.sessions() as session:
            self.visible.append(await session.scalar(select(func.count(OutboxMessage.id))) or 0)
        return await super().send_event(room_id, event_type, content, txn_id)


@pytest.fixture
async def running(db: Database) -> AsyncIterator[tuple[Outbox, WatchingTransport]]:
    async for pair in _running(db):
        yield pair


@pytest.fixture
async def sqlite_running(sqlite_db: Database) -> AsyncIterator[tuple[Outbox, WatchingTransport]]:
    async for pair in _running(sqlite_db):
        yield pair


async def _running(db: Database) -> AsyncIterator[tuple[Outbox, WatchingTransport]]:
    settings = OutboxSettings.model_validate({"backoff_base": "50ms", "backoff_max": "100ms"})
    outbox = Outbox(db, settings=settings)
    transport = WatchingTransport(db)
    task = asyncio.create_task(outbox.run(transport))
    await asyncio.wait_for(outbox.idle.wait(), 10)
    yield outbox, transport
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def until(check: Any, seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def settled(outbox: Outbox) -> None:
    await until(lambda: not outbox._early and not outbox._busy)
    await asyncio.sleep(0.1)  # the worker the finished send woke has looked too


async def test_early_reply_goes_before_the_commit_and_is_marked_once(
    db: Database, running: tuple[Outbox, WatchingTransport]
) -> None:
    outbox, transport = running
    async with db.sessions.begin() as session:
        txn = await Outbox.add(
            session, txn_key="$q1", content=message_content("pong"), room_id=ROOM
        )
        early = await outbox.start_early(session)
        if db.dialect != "sqlite":
            assert early is None  # another replica (device) may take over: no dedupe
        else:
            assert early is not None
            await until(lambda: len(transport.sent) == 1)
            assert transport.visible == [0]  # on its way before its row was committed
    await until(lambda: bool(transport.sent))
    await settled(outbox)
    assert [s.txn_id for s in transport.sent] == [txn]  # once, not again by the worker
    (row,) = await rows(db)
    assert (row.state, row.sent_event_id) == ("sent", "$sent1:test")


async def test_early_reply_of_a_rolled_back_transaction_marks_nothing(
    sqlite_db: Database, sqlite_running: tuple[Outbox, WatchingTransport]
) -> None:
    db, (outbox, transport) = sqlite_db, sqlite_running
    with pytest.raises(RuntimeError):
        async with db.sessions.begin() as session:
            await Outbox.add(session, txn_key="$q1", content=message_content("pong"), room_id=ROOM)
            assert await outbox.start_early(session) is not None
            await until(lambda: len(transport.sent) == 1)
            raise RuntimeError("the commit failed")
    await settled(outbox)
    assert await rows(db) == []
    assert len(transport.sent) == 1  # handled again later: same transaction id, de-duplicated


async def test_early_send_keeps_the_order_of_a_room(
    db: Database, running: tuple[Outbox, WatchingTransport]
) -> None:
    """A room with an earlier message still pending: the reply waits its turn."""
    outbox, transport = running
    async with db.sessions.begin() as session:  # a message waiting to be retried
        first = await Outbox.add(
            session, txn_key="$q0", content=message_content("first"), room_id=ROOM
        )
        later = datetime.now(UTC) + timedelta(hours=1)
        await session.execute(update(OutboxMessage).values(next_attempt_at=later))
    async with db.sessions.begin() as session:
        second = await Outbox.add(
            session, txn_key="$q1", content=message_content("second"), room_id=ROOM
        )
        assert await outbox.start_early(session) is None
    await asyncio.sleep(0.2)
    assert transport.sent == []
    async with db.sessions.begin() as session:
        await session.execute(update(OutboxMessage).values(next_attempt_at=None))
    outbox.wake(scan=True)
    await until(lambda: len(transport.sent) == 2)
    assert [s.txn_id for s in transport.sent] == [first, second]


async def test_early_send_failure_is_recorded_and_retried(
    sqlite_db: Database, sqlite_running: tuple[Outbox, WatchingTransport]
) -> None:
    db, (outbox, transport) = sqlite_db, sqlite_running
    transport.failures.append(SendError("502", failure=Failure.TRANSIENT))
    async with db.sessions.begin() as session:
        txn = await Outbox.add(
            session, txn_key="$q1", content=message_content("pong"), room_id=ROOM
        )
        assert await outbox.start_early(session) is not None
    await until(lambda: len(transport.sent) == 1)
    await settled(outbox)
    (row,) = await rows(db)
    assert (row.state, row.attempts, row.txn_id) == ("sent", 2, txn)
    assert row.last_error == "502"


async def test_has_written_tells_a_read_from_a_write(db: Database) -> None:
    async with db.sessions.begin() as session:
        await session.scalar(select(KeyValue.value).where(KeyValue.key == "x"))
        assert await has_written(session) is (db.dialect != "sqlite")  # unknown: True
        session.add(KeyValue(key="x", value="1"))
        await session.flush()
        assert await has_written(session)


class GatedTransport(FakeTransport):
    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        self.entered.set()
        await self.gate.wait()
        return await super().send_event(room_id, event_type, content, txn_id)


async def test_sends_done_waits_for_requests_in_flight_within_its_bound(db: Database) -> None:
    outbox = Outbox(db)
    transport = GatedTransport()
    task = asyncio.create_task(outbox.run(transport))
    try:
        await outbox.sends_done(5)  # nothing in flight: at once
        async with db.sessions.begin() as session:
            await Outbox.add(session, txn_key="$q1", content=message_content("pong"), room_id=ROOM)
        await asyncio.wait_for(transport.entered.wait(), 10)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await outbox.sends_done(0.05)
        assert loop.time() - started >= 0.05 and not transport.sent  # bounded
        waiting = asyncio.create_task(outbox.sends_done(30))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        transport.gate.set()
        await asyncio.wait_for(waiting, 5)
        assert len(transport.sent) == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
