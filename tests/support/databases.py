"""Test databases: a migrated SQLite file per test, and a real PostgreSQL database.

PostgreSQL comes from ``$HELPDESK_TEST_POSTGRES_URL`` (an admin URL such as
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``; that default is tried when the
variable is unset). A throwaway database is created for the session and dropped at the
end. When PostgreSQL is unreachable its tests are skipped with a message saying how to
enable them, unless ``HELPDESK_REQUIRE_POSTGRES=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import os
import secrets

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SKIP_REASON = (
    "PostgreSQL not reachable at {url}: PostgreSQL tests SKIPPED. Start PostgreSQL and set "
    "HELPDESK_TEST_POSTGRES_URL=postgresql+asyncpg://USER@HOST:PORT/postgres to run them."
)


def pg_admin_url() -> str:
    return os.environ.get("HELPDESK_TEST_POSTGRES_URL") or DEFAULT_PG_ADMIN_URL


def postgres_required() -> bool:
    return os.environ.get("HELPDESK_REQUIRE_POSTGRES") == "1"


async def create_pg_database(admin_url: str) -> str:
    """Create a fresh database; returns its URL. Raises OSError-like errors if unreachable."""
    name = f"helpdesk_test_{secrets.token_hex(4)}"
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def truncate_all(url: str) -> None:
    """Empty every table but Alembic's, between tests on the shared PostgreSQL database."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            names = (
                (
                    await conn.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                )
                .scalars()
                .all()
            )
            if names:
                quoted = ", ".join(f'"{n}"' for n in names)
                await conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
