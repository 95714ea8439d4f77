"""Migrations stairway on SQLite and PostgreSQL: every revision upgrades, downgrades, upgrades."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot.storage import migrate
from bot.storage.base import Base
from bot.storage.engine import create_engine
from tests.support.databases import create_pg_database, drop_pg_database, pg_admin_url


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    revs = list(script.walk_revisions("base", "heads"))
    revs.reverse()
    return [r.revision for r in revs]


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'stairway.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) without PostgreSQL
    url = asyncio.run(create_pg_database(pg_admin_url()))
    yield url
    asyncio.run(drop_pg_database(pg_admin_url(), url))


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_migrations_have_a_single_head() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


@pytest.mark.parametrize("revision", revisions())
async def test_migrations_stairway(empty_db_url: str, revision: str) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    down = script.get_revision(revision).down_revision or "base"
    await migrate.upgrade(empty_db_url, revision)
    await migrate.downgrade(empty_db_url, down if isinstance(down, str) else down[0])
    await migrate.upgrade(empty_db_url, revision)
    assert await migrate.current(empty_db_url) == revision


async def test_migrations_match_models(empty_db_url: str) -> None:
    """The head schema has every table the models declare (nothing forgotten)."""
    await migrate.upgrade(empty_db_url)
    tables = await _tables(empty_db_url)
    import bot.features.models  # noqa: F401 - load every table

    assert set(Base.metadata.tables) <= tables
    await migrate.downgrade(empty_db_url, "base")
    assert await _tables(empty_db_url) <= {"alembic_version"}
