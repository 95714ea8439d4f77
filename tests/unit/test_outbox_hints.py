"""A row's destination reaches the sender when its transaction commits, not before."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.matrix.content import message_content
from bot.outbox import Outbox
from bot.storage import Database
from tests.unit.test_outbox import ROOM, FakeTransport

OTHER = "@alice:test"


async def sent_within(transport: FakeTransport, count: int, seconds: float = 5.0) -> list[str]:
    """The bodies sent, once ``count`` went out (the sender's own tick is 30 s)."""
    async with asyncio.timeout(seconds):
        while len(transport.sent) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return [s.content["body"] for s in transport.sent]


async def running(db: Database) -> tuple[Outbox, FakeTransport, asyncio.Task[Any]]:
    outbox = Outbox(db)
    transport = FakeTransport()
    sender = asyncio.create_task(outbox.run(transport))
    for _ in range(50):  # let the start-up scan find nothing and go idle
        if outbox.idle.is_set():
            break
        await asyncio.sleep(0.01)
    return outbox, transport, sender


async def stop(sender: asyncio.Task[Any]) -> None:
    sender.cancel()
    await asyncio.gather(sender, return_exceptions=True)


async def test_a_wake_inside_the_transaction_still_sends_once_committed(db: Database) -> None:
    """A handler tells a reporter (a DM queued and woken inside its transaction), then
    replies in the room; the DM goes out after the commit, not at some later wake."""
    outbox, transport, sender = await running(db)
    try:
        async with db.sessions.begin() as session:
            await Outbox.add(
                session, txn_key="$ack:tell", content=message_content("dm"), dm_user_id=OTHER
            )
            outbox.wake()  # before the commit: the worker cannot see the row yet
            await asyncio.sleep(0.2)  # the sender runs meanwhile
            await Outbox.add(
                session, txn_key="$ack", content=message_content("reply"), room_id=ROOM
            )
        outbox.wake()
        assert sorted(await sent_within(transport, 2)) == ["dm", "reply"]
    finally:
        await stop(sender)


async def test_a_background_job_s_rows_are_sent_without_a_wake(db: Database) -> None:
    """A job in another task queues and commits, and never calls wake(): sent now."""
    _, transport, sender = await running(db)
    try:

        async def job() -> None:
            async with db.sessions.begin() as session:
                await Outbox.add(
                    session, txn_key="escalate", content=message_content("page"), room_id=ROOM
                )

        await asyncio.create_task(job())
        assert await sent_within(transport, 1) == ["page"]
    finally:
        await stop(sender)


async def test_a_rolled_back_transaction_hands_nothing_over(db: Database) -> None:
    outbox, transport, sender = await running(db)
    try:
        with pytest.raises(RuntimeError):
            async with db.sessions.begin() as session:
                await Outbox.add(
                    session, txn_key="gone", content=message_content("never"), room_id=ROOM
                )
                raise RuntimeError("the handler failed")
        assert outbox._hinted == set()
        await asyncio.sleep(0.2)
        assert transport.sent == []
    finally:
        await stop(sender)
