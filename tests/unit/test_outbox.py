"""The outbox over a real database (SQLite and PostgreSQL) with a recording transport."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import OutboxSettings
from bot.matrix.content import message_content
from bot.outbox import Failure, Outbox, SendError, admin, txn_id_for
from bot.outbox.queue import STALE_FENCE
from bot.storage import Database
from bot.storage.models import ACTIVE_LEASE, DirectRoom, LeaderLease, OutboxMessage

ROOM = "!room:test"
TRIAGE = "!triage:test"


@dataclass
class Sent:
    room_id: str
    event_type: str
    content: dict[str, Any]
    txn_id: str


@dataclass
class FakeTransport:
    """Records sends; ``failures`` are raised, one per send attempt, before succeeding."""

    sent: list[Sent] = field(default_factory=list)
    failures: list[SendError] = field(default_factory=list)
    dm_failures: list[SendError] = field(default_factory=list)
    opened: list[str] = field(default_factory=list)
    fail_rooms: dict[str, SendError] = field(default_factory=dict)  # every send there fails
    event_ids: list[str] = field(default_factory=list)  # returned instead of a fresh id

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        if room_id in self.fail_rooms:
            raise self.fail_rooms[room_id]
        if self.failures:
            raise self.failures.pop(0)
        if self.event_ids:
            return self.event_ids.pop(0)
        self.sent.append(Sent(room_id, event_type, content, txn_id))
        return f"$sent{len(self.sent)}:test"

    async def open_direct_room(self, user_id: str) -> str:
        if self.dm_failures:
            raise self.dm_failures.pop(0)
        self.opened.append(user_id)
        return f"!dm-{len(self.opened)}:test"


async def queue(db: Database, key: str, text: str, seq: int = 0, **target: Any) -> str:
    if not target:
        target = {"room_id": ROOM}
    async with db.sessions.begin() as session:
        return await Outbox.add(
            session, txn_key=key, seq=seq, content=message_content(text), **target
        )


async def rows(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_outbox_sends_in_order_with_txn_ids(db: Database) -> None:
    outbox = Outbox(db)
    txns = [await queue(db, f"$ev{i}", f"message {i}") for i in range(3)]
    transport = FakeTransport()

    assert await outbox.flush(transport) is True

    assert [s.content["body"] for s in transport.sent] == ["message 0", "message 1", "message 2"]
    assert [s.txn_id for s in transport.sent] == txns == [txn_id_for(f"$ev{i}") for i in range(3)]
    assert all(s.room_id == ROOM and s.event_type == "m.room.message" for s in transport.sent)
    stored = await rows(db)
    assert all(r.sent_at is not None for r in stored)
    assert [r.sent_event_id for r in stored] == ["$sent1:test", "$sent2:test", "$sent3:test"]
    assert await outbox.pending_count() == 0

    # Nothing is sent twice.
    assert await outbox.flush(transport) is True
    assert len(transport.sent) == 3


async def test_outbox_add_same_key_twice_is_noop(db: Database) -> None:
    first = await queue(db, "$ev", "first")
    second = await queue(db, "$ev", "second")
    assert first == second
    stored = await rows(db)
    assert len(stored) == 1
    assert stored[0].content["body"] == "first"

    # A different seq is a different message.
    await queue(db, "$ev", "follow-up", seq=1)
    assert len(await rows(db)) == 2


async def test_outbox_add_same_key_in_concurrent_transactions(db: Database) -> None:
    """Two transactions queueing one key (a replayed event): one row, neither fails."""

    async def add_in_own_transaction(text: str, started: asyncio.Event) -> str:
        async with db.sessions.begin() as session:
            txn = await Outbox.add(
                session, txn_key="$same", content=message_content(text), room_id=ROOM
            )
            started.set()
            await asyncio.sleep(0.05)
            return txn

    first_started = asyncio.Event()
    first = asyncio.create_task(add_in_own_transaction("first", first_started))
    await first_started.wait()
    second = await add_in_own_transaction("second", asyncio.Event())
    assert await first == second
    stored = await rows(db)
    assert [row.content["body"] for row in stored] in (["first"], ["second"])


class Now:
    """A settable wall clock for retry times."""

    def __init__(self) -> None:
        self.value = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


def outbox_at(db: Database, now: Now, **settings: Any) -> Outbox:
    outbox = Outbox(db, now=now, settings=OutboxSettings(**settings))
    outbox.triage_room = lambda: TRIAGE
    return outbox


async def test_outbox_transient_error_waits_with_backoff_then_retries(db: Database) -> None:
    now = Now()
    outbox = outbox_at(db, now, backoff_base=2)
    await queue(db, "$a", "A")
    await queue(db, "$b", "B")
    transport = FakeTransport(failures=[SendError("timeout")])

    assert await outbox.flush(transport) is False
    assert transport.sent == []  # B did not overtake A in the same room
    a, b = await rows(db)
    assert a.state == "pending" and a.attempts == 1 and a.last_error == "timeout"
    assert a.next_attempt_at is not None and now() < a.next_attempt_at <= now() + timedelta(2)
    assert b.state == "pending" and b.attempts == 0

    # Not due yet: nothing is tried.
    assert await outbox.flush(transport) is True
    assert transport.sent == []
    now.advance(2.5)
    assert await outbox.flush(transport) is True
    assert [s.content["body"] for s in transport.sent] == ["A", "B"]
    a, b = await rows(db)
    assert a.attempts == 2 and a.sent_at is not None and a.state == "sent"
    assert await outbox.pending_count() == 0


async def test_outbox_failing_room_does_not_hold_up_another(db: Database) -> None:
    now = Now()
    outbox = outbox_at(db, now)
    await queue(db, "$bad", "to the failing room", room_id="!bad:test")
    await queue(db, "$good", "to a working room", room_id="!good:test")
    transport = FakeTransport(fail_rooms={"!bad:test": SendError("502 M_UNKNOWN")})

    assert await outbox.flush(transport) is False
    assert [(s.room_id, s.content["body"]) for s in transport.sent] == [
        ("!good:test", "to a working room")
    ]


async def test_outbox_permanent_error_dead_letters_with_one_triage_notice(db: Database) -> None:
    outbox = outbox_at(db, Now())
    metrics = outbox.metrics
    await queue(db, "$doomed", "secret ticket text", room_id="!muted:test")
    await queue(db, "$next", "after", room_id="!muted:test")
    transport = FakeTransport(failures=[SendError("403 M_FORBIDDEN", permanent=True)])

    assert await outbox.flush(transport) is True
    doomed, nxt, notice = await rows(db)
    assert doomed.state == "dead" and doomed.sent_at is None and doomed.sent_event_id is None
    assert doomed.attempts == 1 and doomed.last_error == "403 M_FORBIDDEN"
    assert nxt.state == "sent"  # the rest of that room goes on
    assert notice.room_id == TRIAGE and notice.kind == "dead_letter" and notice.state == "sent"
    body = notice.content["body"]
    assert "!muted:test" in body and "reply" in body and "secret" not in body
    assert [s.room_id for s in transport.sent] == ["!muted:test", TRIAGE]
    assert metrics.dead_letters._value.get() == 1
    assert await outbox.dead_count() == 1

    # Flushing again sends nothing more: exactly one notice.
    assert await outbox.flush(transport) is True
    assert len(transport.sent) == 2


async def test_outbox_gives_up_after_max_attempts_or_age(db: Database) -> None:
    now = Now()
    outbox = outbox_at(db, now, max_attempts=3, backoff_base=1, give_up_after="1h")
    await queue(db, "$flaky", "never arrives", room_id="!flaky:test")
    transport = FakeTransport(fail_rooms={"!flaky:test": SendError("500")})
    for _ in range(3):
        await outbox.flush(transport)
        now.advance(10)
    (row, notice) = await rows(db)
    assert row.state == "dead" and row.attempts == 3
    assert notice.kind == "dead_letter"

    await queue(db, "$old", "too late", room_id="!flaky:test")
    now.advance(3600 * 2)  # created (wall clock) long before "now"
    await outbox.flush(transport)
    old = (await rows(db))[-2]
    assert old.txn_id == txn_id_for("$old") and old.state == "dead" and old.attempts == 1


async def test_outbox_rate_limit_waits_retry_after_without_counting(db: Database) -> None:
    now = Now()
    outbox = outbox_at(db, now)
    await queue(db, "$a", "A")
    limited = SendError("429", failure=Failure.RATE_LIMITED, retry_after=7.0)
    transport = FakeTransport(failures=[limited])

    assert await outbox.flush(transport) is False
    (a,) = await rows(db)
    assert a.attempts == 0 and a.state == "pending"
    assert now() + timedelta(seconds=7) <= a.next_attempt_at <= now() + timedelta(seconds=7.5)
    now.advance(5)
    await outbox.flush(transport)
    assert transport.sent == []
    now.advance(3)
    await outbox.flush(transport)
    assert [s.content["body"] for s in transport.sent] == ["A"]


async def test_outbox_unknown_token_holds_everything_and_keeps_rows(db: Database) -> None:
    outbox = outbox_at(db, Now())
    told: list[bool] = []
    outbox.on_auth_error = lambda: told.append(True)
    await queue(db, "$a", "A")
    await queue(db, "$b", "B", room_id="!other:test")
    auth = SendError("401 M_UNKNOWN_TOKEN", failure=Failure.AUTH)
    transport = FakeTransport(failures=[auth, auth])

    assert await outbox.flush(transport) is False
    assert told and outbox.held == {"session"}
    stored = await rows(db)
    assert all(r.state == "pending" and r.attempts == 0 and r.sent_at is None for r in stored)
    assert not outbox.moving()
    outbox.release("session")
    transport.failures.clear()
    assert await outbox.flush(transport) is True
    assert sorted(s.content["body"] for s in transport.sent) == ["A", "B"]


async def test_outbox_never_marks_sent_without_an_event_id(db: Database) -> None:
    outbox = outbox_at(db, Now())
    await queue(db, "$a", "A")
    transport = FakeTransport(event_ids=[""])
    assert await outbox.flush(transport) is False
    (a,) = await rows(db)
    assert a.state == "pending" and a.sent_at is None


async def test_outbox_pages_go_before_replies_in_a_room(db: Database) -> None:
    outbox = outbox_at(db, Now())
    await queue(db, "$r1", "reply 1")
    await queue(db, "$r2", "reply 2")
    await queue(db, "incident:7:page:@oncall:test", "page", room_id=ROOM)
    await queue(db, "$r3", "reply 3")
    transport = FakeTransport()
    await outbox.flush(transport)
    assert [s.content["body"] for s in transport.sent] == ["page", "reply 1", "reply 2", "reply 3"]


async def test_outbox_stale_fencing_token_marks_nothing(db: Database) -> None:
    async with db.sessions.begin() as session:
        session.add(LeaderLease(name=ACTIVE_LEASE, fence=5, holder="other"))
    outbox = outbox_at(db, Now())
    outbox.fence = lambda: 4  # this replica's token is no longer current
    await queue(db, "$a", "A")
    transport = FakeTransport()
    assert await outbox.flush(transport) is False
    assert transport.sent == []  # not even claimed
    assert outbox.held == {STALE_FENCE}
    outbox.fence = lambda: 5
    outbox.release(STALE_FENCE)
    assert await outbox.flush(transport) is True
    assert [s.content["body"] for s in transport.sent] == ["A"]


async def test_outbox_admin_lists_retries_and_drops_dead_letters(db: Database) -> None:
    outbox = outbox_at(db, Now())
    await queue(db, "$x", "secret x", room_id="!x:test")
    await queue(db, "$y", "secret y", room_id="!y:test")
    forbidden = SendError("403 M_FORBIDDEN", permanent=True)
    await outbox.flush(FakeTransport(fail_rooms={"!x:test": forbidden, "!y:test": forbidden}))
    dead = await admin.list_rows(db)
    assert [d.destination for d in dead] == ["!x:test", "!y:test"]
    assert all("secret" not in d.line() for d in dead)

    assert await admin.retry(db, [dead[0].id]) == 1
    assert await admin.drop(db, [dead[1].id]) == 1
    transport = FakeTransport()
    await outbox.flush(transport)
    assert [s.content["body"] for s in transport.sent if s.room_id != TRIAGE] == ["secret x"]
    assert await admin.list_rows(db) == []
    (dropped,) = await admin.list_rows(db, states=("dropped",))
    assert dropped.destination == "!y:test"
    async with db.sessions() as session:
        row = await session.get(OutboxMessage, dropped.id)
        assert row is not None and "secret" not in str(row.content)


async def test_outbox_dm_opened_once_and_reused(db: Database) -> None:
    outbox = Outbox(db)
    await queue(db, "$1", "hello", dm_user_id="@alice:test")
    await queue(db, "$2", "again", dm_user_id="@alice:test")
    transport = FakeTransport()

    assert await outbox.flush(transport) is True
    assert transport.opened == ["@alice:test"]
    assert [s.room_id for s in transport.sent] == ["!dm-1:test", "!dm-1:test"]
    async with db.sessions() as session:
        stored = await session.get(DirectRoom, "@alice:test")
    assert stored is not None and stored.room_id == "!dm-1:test"
    assert all(r.room_id == "!dm-1:test" for r in await rows(db))

    # A later flush (e.g. after a restart: a fresh Outbox) reuses the stored room.
    await queue(db, "$3", "third", dm_user_id="@alice:test")
    assert await Outbox(db).flush(transport) is True
    assert transport.opened == ["@alice:test"]
    assert transport.sent[-1].room_id == "!dm-1:test"


async def test_outbox_dm_open_failure_keeps_row_pending(db: Database) -> None:
    now = Now()
    outbox = outbox_at(db, now)
    await queue(db, "$1", "hello", dm_user_id="@bob:test")
    transport = FakeTransport(dm_failures=[SendError("server unreachable")])

    assert await outbox.flush(transport) is False
    (row,) = await rows(db)
    assert row.sent_at is None and row.room_id is None and row.attempts == 1
    async with db.sessions() as session:
        assert await session.get(DirectRoom, "@bob:test") is None

    now.advance(60)
    assert await outbox.flush(transport) is True
    assert transport.opened == ["@bob:test"]
    assert [s.content["body"] for s in transport.sent] == ["hello"]


def test_outbox_txn_id_is_deterministic_and_differs_by_seq() -> None:
    assert txn_id_for("$event:test") == txn_id_for("$event:test", 0)
    assert txn_id_for("$event:test", 1) == txn_id_for("$event:test", 1)
    assert txn_id_for("$event:test", 0) != txn_id_for("$event:test", 1)
    assert txn_id_for("$event:test") != txn_id_for("$other:test")
    # Whatever the key contains, the id is short and URL-safe.
    weird = txn_id_for("tip/2026-11-22 #room:ü?&", 3)
    assert re.fullmatch(r"[A-Za-z0-9.]+", weird)
    assert len(weird) <= 50


async def test_outbox_gauges_counted_on_a_timer(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The running sender counts pending rows at start and then every few seconds."""
    monkeypatch.setattr("bot.outbox.delivery.GAUGE_SECONDS", 0.05)
    outbox = Outbox(db)
    outbox.hold("test")
    await queue(db, "$g1", "one")
    await queue(db, "$g2", "two")
    transport = FakeTransport()
    sender = asyncio.create_task(outbox.run(transport))

    async def pending_gauge_reaches(value: float) -> None:
        async with asyncio.timeout(10):
            while outbox.metrics.outbox_pending._value.get() != value:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    try:
        await pending_gauge_reaches(2)
        outbox.release("test")
        await pending_gauge_reaches(0)
        assert len(transport.sent) == 2
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


@dataclass
class GatedTransport(FakeTransport):
    """Holds the first send until ``gate`` is set."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    first_started: asyncio.Event = field(default_factory=asyncio.Event)

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        if not self.first_started.is_set():
            self.first_started.set()
            await self.gate.wait()
        return await super().send_event(room_id, event_type, content, txn_id)


@pytest.mark.parametrize("woken_from", ["same task", "another task"])
async def test_run_sends_a_row_queued_while_its_destination_is_busy(
    db: Database, woken_from: str
) -> None:
    """Handed over (same task) or found by a scan (another task's wake), a row queued
    while its room's worker is sending goes out when that worker is done, not at the tick."""
    outbox = Outbox(db)
    transport = GatedTransport()
    sender = asyncio.create_task(outbox.run(transport))
    try:
        async with asyncio.timeout(5):  # the sender's own tick is 30 s
            await queue(db, "$b1", "one")
            outbox.wake()
            await transport.first_started.wait()
            if woken_from == "same task":
                await queue(db, "$b2", "two")
                outbox.wake()
            else:
                await asyncio.create_task(queue(db, "$b2", "two"))
                await asyncio.sleep(0.1)
                outbox.wake()
            await asyncio.sleep(0.1)  # the sender looks while the room is busy
            transport.gate.set()
            while len(transport.sent) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert [s.content["body"] for s in transport.sent] == ["one", "two"]
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


async def test_run_sends_a_row_queued_just_as_its_worker_finds_the_queue_empty(
    db: Database,
) -> None:
    """The race: the worker has found its queue empty but not yet finished when another
    task queues a row there and wakes the sender. It is sent now, not at the 30 s tick."""
    outbox = Outbox(db)
    transport = FakeTransport()
    claim = outbox._claim_head
    raced = False

    async def claim_then_race(destination: str) -> Any:
        nonlocal raced
        item = await claim(destination)
        if item is None and not raced:
            raced = True
            await asyncio.create_task(queue(db, "$r2", "two"))
            outbox.wake()
            await asyncio.sleep(0.1)  # the sender looks while this worker is still busy
        return item

    outbox._claim_head = claim_then_race  # type: ignore[method-assign]
    sender = asyncio.create_task(outbox.run(transport))
    try:
        await queue(db, "$r1", "one")
        outbox.wake()
        async with asyncio.timeout(5):
            while len(transport.sent) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert [s.content["body"] for s in transport.sent] == ["one", "two"]
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


async def test_two_workers_for_one_room_send_each_message_once_in_order(db: Database) -> None:
    """A flush at shutdown while the sender runs: two drains of one room at once."""
    outbox = Outbox(db)
    for i in range(3):
        await queue(db, f"$w{i}", f"w{i}")
    transport = GatedTransport()
    first = asyncio.create_task(outbox._drain(transport, ROOM))
    await transport.first_started.wait()
    second = asyncio.create_task(outbox._drain(transport, ROOM))
    await asyncio.sleep(0.05)
    transport.gate.set()
    assert await asyncio.gather(first, second) == [True, True]
    assert [s.content["body"] for s in transport.sent] == ["w0", "w1", "w2"]
    assert outbox.held == frozenset()
    assert await outbox.pending_count() == 0


@dataclass
class FindingTransport(FakeTransport):
    """Knows the events already in the room by transaction id (``find_sent``)."""

    in_room: dict[str, str] = field(default_factory=dict)
    looked_for: list[str] = field(default_factory=list)

    async def find_sent(self, room_id: str, txn_id: str) -> str | None:
        self.looked_for.append(txn_id)
        return self.in_room.get(txn_id)


async def test_a_row_another_instance_was_sending_is_looked_for_before_sending(
    db: Database,
) -> None:
    """Another device may have sent it: the homeserver would not de-duplicate a resend."""
    outbox = Outbox(db, instance_id="here")
    sent_before = await queue(db, "$t1", "sent by the other")
    not_sent = await queue(db, "$t2", "not sent by the other")
    async with db.sessions.begin() as session:
        for row in await session.scalars(select(OutboxMessage)):
            row.claimed_by = "elsewhere"
    transport = FindingTransport(in_room={sent_before: "$there:test"})
    assert await outbox.flush(transport) is True
    assert transport.looked_for == [sent_before, not_sent]
    assert [s.txn_id for s in transport.sent] == [not_sent]
    assert [r.sent_event_id for r in await rows(db)] == ["$there:test", "$sent1:test"]
