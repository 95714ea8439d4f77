"""Fault-injection tests: the real Synapse, with a proxy in front where faults are injected."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from bot.dev.devserver import LocalSynapse
from bot.storage import migrate
from tests.faults.proxy import FaultProxy
from tests.support.botworld import BotWorld, make_world
from tests.support.pgcluster import PrivatePostgres


@pytest.fixture
async def proxy(synapse: LocalSynapse) -> AsyncIterator[FaultProxy]:
    p = FaultProxy(synapse.url)
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def fault_world(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[BotWorld]:
    world = await make_world(synapse, tmp_path / "world")
    yield world
    await world.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster (initdb under /tmp) that a test may stop and start."""
    pg = PrivatePostgres()
    pg.init()
    pg.start()
    yield pg
    pg.remove()


@pytest.fixture
async def pg_url(cluster: PrivatePostgres) -> AsyncIterator[str]:
    """A fresh migrated database on the private cluster."""
    name = f"faults_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(cluster.url().replace("postgresql+asyncpg", "postgresql"))
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = cluster.url(name)
    await migrate.upgrade(url)
    yield url
