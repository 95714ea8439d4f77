"""bot.storage.kv: one named value, replaced in place, forgotten on delete."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.storage import Database, kv
from bot.storage.models import KeyValue


async def test_kv_put_replaces_and_delete_forgets(db: Database) -> None:
    when = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    async with db.sessions.begin() as session:
        assert await kv.get(session, "feature:x") is None
        await kv.put(session, "feature:x", "1")
    async with db.sessions.begin() as session:
        await kv.put(session, "feature:x", "2", now=when)
        await kv.delete(session, "feature:missing")  # no error
    async with db.sessions() as session:
        assert await kv.get(session, "feature:x") == "2"
        rows = list(await session.scalars(select(KeyValue).where(KeyValue.key == "feature:x")))
        assert len(rows) == 1 and rows[0].updated_at == when
    async with db.sessions.begin() as session:
        await kv.delete(session, "feature:x")
    async with db.sessions() as session:
        assert await kv.get(session, "feature:x") is None
