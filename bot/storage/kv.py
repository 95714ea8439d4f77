"""Small named values that must survive restarts, for any part of the bot.

One shared table (``kv``) behind three calls, so features keep a single value (the
ownership map's version, a cached alias, a digest's last run) without reading the
foundation's table or adding a table per value. Keys are namespaced by their owner
(``tips:alias:...``, ``ownership:...``); nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import KeyValue


async def get(session: AsyncSession, key: str) -> str | None:
    """The value stored under ``key`` (None: nothing stored)."""
    return await session.scalar(select(KeyValue.value).where(KeyValue.key == key))


async def put(session: AsyncSession, key: str, value: str, *, now: datetime | None = None) -> None:
    """Store ``value`` under ``key`` (replacing any value); ``now`` sets ``updated_at``."""
    row = await session.get(KeyValue, key)
    if row is None:
        row = KeyValue(key=key, value=value)
        session.add(row)
    else:
        row.value = value
    if now is not None:
        row.updated_at = now


async def delete(session: AsyncSession, key: str) -> None:
    """Forget ``key`` (no error if nothing is stored)."""
    await session.execute(sql_delete(KeyValue).where(KeyValue.key == key))
