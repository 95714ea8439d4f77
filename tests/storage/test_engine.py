"""The engine keeps statement parameters (people's text) out of errors and logs."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from bot.storage import Database
from bot.storage.models import KeyValue


async def test_engine_errors_never_carry_statement_parameters(db: Database) -> None:
    secret = "my password is hunter2"
    with pytest.raises(DBAPIError) as raised:
        async with db.sessions.begin() as session:
            session.add(KeyValue(key="k", value=secret))
            await session.flush()
            session.add(KeyValue(key="k", value=secret))  # the same key: IntegrityError
            await session.flush()
    assert secret not in str(raised.value)


def test_engine_head_from_files_matches_alembic() -> None:
    """A restart at head skips the migration child: both must agree on the head."""
    from bot.storage.migrate import head_revision
    from bot.storage.upgrade import head_from_files

    assert head_from_files() == head_revision()


async def test_engine_relaxed_sessions_skip_the_fsync_only_on_sqlite(db: Database) -> None:
    """Bookkeeping sessions share the data; on SQLite only they commit without an fsync."""
    from sqlalchemy import text

    async with db.relaxed_sessions.begin() as session:
        session.add(KeyValue(key="token", value="s1"))
    async with db.sessions() as session:
        assert (await session.get(KeyValue, "token")) is not None  # one database
    if db.dialect != "sqlite":
        assert db.relaxed_sessions is db.sessions  # a lease must stay durable there
        return
    async with db.sessions() as session:
        assert await session.scalar(text("PRAGMA synchronous")) == 2  # FULL
    async with db.relaxed_sessions() as session:
        assert await session.scalar(text("PRAGMA synchronous")) == 1  # NORMAL
        assert await session.scalar(text("PRAGMA journal_mode")) == "wal"
