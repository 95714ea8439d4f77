"""The database goes away while messages arrive: nothing is lost, nothing doubled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.storage import migrate
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.databases import create_pg_database, drop_pg_database, pg_admin_url
from tests.support.replies import is_reply_from, wait_all_answered
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
async def proxied_pg(postgres_url: str) -> AsyncIterator[tuple[str, TcpProxy]]:
    """A fresh migrated PostgreSQL database reached through a proxy the test can cut."""
    url = await create_pg_database(pg_admin_url())
    await migrate.upgrade(url)
    parsed = make_url(url)
    proxy = TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    await proxy.start()
    proxied = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield proxied, proxy
    await proxy.cut()
    await drop_pg_database(pg_admin_url(), url)


async def readyz(port: int) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status


async def test_bot_database_outage_loses_nothing(
    world: BotWorld, proxied_pg: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied_pg
    bot = InProcessBot(world.settings(database={"url": url}))
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        alice = await world.user("alice")
        await alice.drain()
        first = await alice.send(world.helpdesk, "!ping before")
        assert await alice.wait_for(is_reply_from(world.bot_user_id, first), 20)

        await proxy.cut()
        during = [await alice.send(world.helpdesk, f"!ping during {i}") for i in range(5)]
        for _ in range(100):  # readiness reports the outage
            if await readyz(world.web_port) == 503:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("/readyz never reported the database outage")
        await asyncio.sleep(2)
        await alice.sync(timeout_ms=200)
        assert not [
            e
            for e in alice.events
            if is_reply_from(world.bot_user_id)(e)
            and e.get("content", {})
            .get("m.relates_to", {})
            .get("m.in_reply_to", {})
            .get("event_id")
            in during
        ], "answered without a database?"

        await proxy.start()  # the database is back
        counts = await wait_all_answered(alice, world.bot_user_id, during, timeout=90)
        assert len(counts) == 5 and set(counts.values()) == {1}
        assert await readyz(world.web_port) == 200
    finally:
        await bot.stop()
