"""Housekeeping: old handled marks go, old sent messages lose their text but keep their ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.maintenance import PRUNED_CONTENT, prune
from bot.storage import Database
from bot.storage.models import HandledEvent, OutboxMessage

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def test_maintenance_prunes_only_what_is_older_than_the_window(db: Database) -> None:
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=2)
    async with db.sessions.begin() as session:
        session.add_all(
            [
                HandledEvent(event_id="$old", room_id="!r", handled_at=old),
                HandledEvent(event_id="$new", room_id="!r", handled_at=recent),
                OutboxMessage(
                    txn_id="t-old",
                    room_id="!r",
                    content={"body": "secret ticket text"},
                    event_type="m.room.message",
                    created_at=old,
                    sent_at=old,
                    sent_event_id="$sent-old",
                    attempts=1,
                ),
                OutboxMessage(
                    txn_id="t-new",
                    room_id="!r",
                    content={"body": "recent"},
                    event_type="m.room.message",
                    created_at=recent,
                    sent_at=recent,
                    sent_event_id="$sent-new",
                    attempts=1,
                ),
                OutboxMessage(
                    txn_id="t-unsent",
                    room_id="!r",
                    content={"body": "still to send"},
                    event_type="m.room.message",
                    created_at=old,
                    attempts=3,
                ),
            ]
        )
    result = await prune(db, now=NOW, retention=timedelta(days=30))
    assert (result.handled_deleted, result.outbox_emptied) == (1, 1)
    async with db.sessions() as session:
        assert set(await session.scalars(select(HandledEvent.event_id))) == {"$new"}
        rows = {r.txn_id: r for r in await session.scalars(select(OutboxMessage))}
    assert rows["t-old"].content == PRUNED_CONTENT
    assert rows["t-old"].sent_event_id == "$sent-old"  # the link features rely on stays
    assert rows["t-new"].content == {"body": "recent"}
    assert rows["t-unsent"].content == {"body": "still to send"}  # never drop unsent work
