"""Replicas starting together on one PostgreSQL database migrate it once, without errors."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from bot.storage import migrate
from tests.support.botworld import ROOT
from tests.support.databases import create_pg_database, drop_pg_database, pg_admin_url

pytestmark = pytest.mark.postgres


async def test_migrations_concurrent_processes_on_postgres(postgres_url: str) -> None:
    url = await create_pg_database(pg_admin_url())
    try:
        code = (
            "import asyncio; from bot.storage import migrate; "
            f"asyncio.run(migrate.upgrade({url!r}))"
        )
        procs = [
            subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE)
            for _ in range(6)
        ]
        results = [await asyncio.to_thread(p.communicate, None, 120) for p in procs]
        failures = [
            err.decode()[-500:]
            for (_, err), p in zip(results, procs, strict=True)
            if p.returncode != 0
        ]
        assert not failures, failures
        assert await migrate.current(url) == migrate.head_revision()
    finally:
        await drop_pg_database(pg_admin_url(), url)


async def test_migrations_concurrent_in_one_process(tmp_path) -> None:
    """Two apps in one process (Alembic keeps global state): serialised, both succeed."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    await asyncio.gather(migrate.upgrade(url), migrate.upgrade(url))
    assert await migrate.current(url) == migrate.head_revision()
