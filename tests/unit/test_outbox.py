"""The outbox over a real database (SQLite and PostgreSQL) with a recording transport."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.matrix.content import message_content
from bot.outbox import MAX_PERMANENT_FAILURES, Outbox, SendError, txn_id_for
from bot.storage import Database
from bot.storage.models import DirectRoom, OutboxMessage

ROOM = "!room:test"


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

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        if self.failures:
            raise self.failures.pop(0)
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


async def test_outbox_transient_error_stops_and_retries_later(db: Database) -> None:
    outbox = Outbox(db)
    await queue(db, "$a", "A")
    await queue(db, "$b", "B")
    transport = FakeTransport(failures=[SendError("timeout")])

    assert await outbox.flush(transport) is False
    assert transport.sent == []  # B did not overtake A
    a, b = await rows(db)
    assert a.sent_at is None and a.attempts == 1 and a.last_error == "timeout"
    assert b.sent_at is None and b.attempts == 0
    assert await outbox.pending_count() == 2

    assert await outbox.flush(transport) is True
    assert [s.content["body"] for s in transport.sent] == ["A", "B"]
    a, b = await rows(db)
    assert a.attempts == 2 and a.sent_at is not None
    assert await outbox.pending_count() == 0


async def test_outbox_permanent_error_gives_up_after_limit(db: Database) -> None:
    outbox = Outbox(db)
    await queue(db, "$doomed", "never")
    await queue(db, "$next", "after")
    transport = FakeTransport(
        failures=[SendError("M_FORBIDDEN", permanent=True) for _ in range(MAX_PERMANENT_FAILURES)]
    )

    for attempt in range(1, MAX_PERMANENT_FAILURES):
        assert await outbox.flush(transport) is False
        doomed, _ = await rows(db)
        assert doomed.attempts == attempt and doomed.sent_at is None

    # The last permitted failure gives up on it and moves on to the next message.
    assert await outbox.flush(transport) is True
    doomed, nxt = await rows(db)
    assert doomed.attempts == MAX_PERMANENT_FAILURES
    assert doomed.sent_at is not None and doomed.sent_event_id is None
    assert doomed.last_error == "M_FORBIDDEN"
    assert [s.content["body"] for s in transport.sent] == ["after"]
    assert nxt.sent_event_id is not None


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
    outbox = Outbox(db)
    await queue(db, "$1", "hello", dm_user_id="@bob:test")
    transport = FakeTransport(dm_failures=[SendError("server unreachable")])

    assert await outbox.flush(transport) is False
    (row,) = await rows(db)
    assert row.sent_at is None and row.room_id is None and row.attempts == 1
    async with db.sessions() as session:
        assert await session.get(DirectRoom, "@bob:test") is None

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
