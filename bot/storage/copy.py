"""``helpdesk-bot db copy``: move a deployment's database (SQLite to PostgreSQL) whole.

Every table goes across (handled marks, the sync token, the outbox, tickets, incidents,
tips, ...): the tables are read from the databases themselves, so a feature's new table
needs no change here. The target is migrated to the same revision first and must be
empty; afterwards the row counts of every table are compared, and PostgreSQL's id
sequences are moved past the copied ids. Stop the bot before copying.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, Table, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import DateTime

from bot.storage import migrate
from bot.storage.engine import create_engine

log = logging.getLogger(__name__)

CHUNK = 1000
SKIP = {"alembic_version"}


class CopyError(Exception):
    """The copy cannot start or did not verify; the message says why."""


def async_url(url: str) -> str:
    """Accept ``postgresql://`` and ``sqlite:///`` too, as the async drivers' URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return url


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def _reflect(conn: AsyncConnection) -> MetaData:
    meta = MetaData()
    await conn.run_sync(meta.reflect)
    return meta


def _convert(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """SQLite keeps timestamps naive (in UTC); PostgreSQL's columns want them aware."""
    for column in table.columns:
        value = row.get(column.name)
        if (
            isinstance(value, datetime)
            and value.tzinfo is None
            and isinstance(column.type, DateTime)
            and column.type.timezone
        ):
            row[column.name] = value.replace(tzinfo=UTC)
    return row


async def _count(conn: AsyncConnection, table: Table) -> int:
    return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


async def _reset_sequences(conn: AsyncConnection, tables: list[Table]) -> None:
    for table in tables:
        for column in table.primary_key.columns:
            sequence = await conn.scalar(
                text("SELECT pg_get_serial_sequence(:t, :c)"),
                {"t": table.name, "c": column.name},
            )
            if sequence:
                await conn.execute(
                    text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '
                        f'FROM "{table.name}"), 0) + 1, false)'
                    ),
                    {"s": sequence},
                )


async def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every table of ``source_url`` into the empty database at ``target_url``.

    Returns:
        Rows copied per table, verified equal on both sides.

    Raises:
        CopyError: same database, revisions differ, a non-empty target, or counts differ.
    """
    source_url, target_url = async_url(source_url), async_url(target_url)
    if make_url(source_url) == make_url(target_url):
        raise CopyError("--from and --to name the same database")
    revision = await migrate.current(source_url)
    if revision is None:
        raise CopyError(f"{_safe(source_url)} has no bot schema (nothing to copy)")
    if revision != migrate.head_revision():
        raise CopyError(
            f"{_safe(source_url)} is at revision {revision}, not this version's "
            f"{migrate.head_revision()}: run `helpdesk-bot db upgrade` on it first"
        )
    await migrate.upgrade(target_url)
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        return await _copy(source, target)
    finally:
        await source.dispose()
        await target.dispose()


async def _copy(source: AsyncEngine, target: AsyncEngine) -> dict[str, int]:
    async with source.connect() as src, target.begin() as dst:
        src_meta, dst_meta = await _reflect(src), await _reflect(dst)
        tables = [t for t in dst_meta.sorted_tables if t.name not in SKIP]
        missing = [t.name for t in tables if t.name not in src_meta.tables]
        if missing:
            raise CopyError(f"the source lacks tables {missing}")
        for table in tables:
            if await _count(dst, table):
                raise CopyError(f"the target is not empty (table {table.name} has rows)")
        counts: dict[str, int] = {}
        for table in tables:
            rows = (await src.execute(select(src_meta.tables[table.name]))).mappings().all()
            for start in range(0, len(rows), CHUNK):
                chunk = [_convert(table, dict(r)) for r in rows[start : start + CHUNK]]
                await dst.execute(table.insert(), chunk)
            counts[table.name] = len(rows)
        if target.dialect.name == "postgresql":
            await _reset_sequences(dst, tables)
        for table in tables:
            source_count = await _count(src, src_meta.tables[table.name])
            copied = await _count(dst, table)
            if not source_count == copied == counts[table.name]:
                raise CopyError(
                    f"table {table.name}: {source_count} rows in the source, {copied} copied"
                )
    log.info("copied %d tables, %d rows", len(counts), sum(counts.values()))
    return counts
