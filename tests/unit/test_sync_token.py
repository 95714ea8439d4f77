"""The stored sync token: one upsert, on SQLite and PostgreSQL."""

from __future__ import annotations

from bot.matrix.rooms import load_sync_token, save_sync_token
from bot.storage import Database


async def test_sync_token_saved_then_advanced(db: Database) -> None:
    assert await load_sync_token(db, "@bot:example.org") is None
    await save_sync_token(db, "@bot:example.org", "s1")
    await save_sync_token(db, "@bot:example.org", "s2")
    assert await load_sync_token(db, "@bot:example.org") == "s2"
    # Per account: another bot user's token is its own.
    await save_sync_token(db, "@other:example.org", "t1")
    assert await load_sync_token(db, "@bot:example.org") == "s2"
    assert await load_sync_token(db, "@other:example.org") == "t1"
