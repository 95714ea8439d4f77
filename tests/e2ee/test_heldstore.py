"""Held undecryptable events in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from bot.matrix.e2ee.heldstore import HeldStore
from bot.storage import Database
from bot.storage.models import KeyValue


@pytest.mark.postgres
async def test_held_events_round_trip_ciphertext_only(db: Database) -> None:
    store = HeldStore(db, "@bot:example.org")
    assert await store.load() == []
    item = {
        "room_id": "!r",
        "source": {"event_id": "$e", "type": "m.room.encrypted", "content": {"ciphertext": "x"}},
        "direct": True,
        "since": 1.5,
    }
    await store.save([item])
    await store.save([item, {**item, "room_id": "!s"}])
    assert await store.load() == [item, {**item, "room_id": "!s"}]
    async with db.sessions() as session:
        row = await session.get(KeyValue, "e2ee_held:@bot:example.org")
    assert row is not None and "ciphertext" in row.value
    await store.save([])
    assert await store.load() == []
