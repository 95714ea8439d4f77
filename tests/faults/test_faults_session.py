"""The bot's session revoked mid-run (Synapse's admin API deletes its device)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.dev.devserver import LocalSynapse
from bot.matrix.content import message_content
from bot.outbox import Outbox
from bot.storage.models import OutboxMessage
from tests.faults.proxy import FaultProxy, Rule
from tests.support.botworld import BotWorld, InProcessBot, wait_joined, wait_ready
from tests.support.mxclient import reply_to

pytestmark = pytest.mark.integration

_admins = itertools.count(1)


async def http(method: str, url: str, token: str | None = None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, url, json=body, headers=headers) as r,
    ):
        assert r.status < 300, f"{method} {url}: {r.status} {await r.text()}"
        return await r.json()


async def revoke(hs: LocalSynapse, user_id: str, device_id: str) -> None:
    """What an admin does to cut a session: delete the device (and with it its tokens)."""
    admin = await asyncio.to_thread(hs.register, f"admin{next(_admins)}", "admin-pw", admin=True)
    url = f"{hs.url}/_synapse/admin/v2/users/{user_id}/devices/{device_id}"
    await http("DELETE", url, admin["access_token"])


async def readyz(port: int) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status, await r.json()


async def test_faults_revoked_session_with_password_logs_in_again_and_answers(
    fault_world: BotWorld,
) -> None:
    world = fault_world
    bot = InProcessBot(world.settings())
    app = await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        alice = await world.user("alice")
        first = await alice.send(world.helpdesk, "!ping")
        assert await alice.wait_for(lambda e: reply_to(e) == first, timeout=20)
        device = app.matrix.client.device_id
        assert device

        await revoke(world.hs, world.bot_user_id, device)
        again = await alice.send(world.helpdesk, "!ping")
        assert await alice.wait_for(lambda e: reply_to(e) == again, timeout=40), "no answer"
        assert app.matrix.client.device_id == device  # the same device, logged in again
        assert app.metrics.relogins._value.get() == 1
        await wait_ready(world.web_port, timeout=20)
    finally:
        await bot.stop()


async def test_faults_revoked_access_token_is_not_ready_and_keeps_the_queue(
    fault_world: BotWorld, caplog: pytest.LogCaptureFixture
) -> None:
    world = fault_world
    login = await http(
        "POST",
        f"{world.hs.url}/_matrix/client/v3/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": world.bot_user_id},
            "password": world.bot_password,
            "device_id": "TOKENONLY",
        },
    )
    settings = world.settings(
        matrix={"password": None, "access_token": login["access_token"], "encryption": False}
    )
    bot = InProcessBot(settings)
    app = await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        await wait_ready(world.web_port, timeout=20)
        caplog.set_level(logging.INFO)
        await revoke(world.hs, world.bot_user_id, "TOKENONLY")
        async with app.db.sessions.begin() as session:
            for i in range(3):
                await Outbox.add(
                    session,
                    txn_key=f"kept{i}",
                    room_id=world.helpdesk,
                    content=message_content(f"kept {i}"),
                )
        app.outbox.wake()

        deadline = time.monotonic() + 30
        status, body = await readyz(world.web_port)
        while status == 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            status, body = await readyz(world.web_port)
        assert status == 503 and body["checks"]["session"] is False, body
        await asyncio.sleep(1)  # the outbox had its chance to (wrongly) mark them
        async with app.db.sessions() as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
        kept = [r for r in rows if r.content.get("body", "").startswith("kept")]
        assert len(kept) == 3
        assert all(r.state == "pending" and r.sent_at is None and r.attempts == 0 for r in kept)
        assert "matrix.access_token was revoked" in caplog.text
    finally:
        await bot.stop()

    # A new token: everything that was queued goes out.
    login = await http(
        "POST",
        f"{world.hs.url}/_matrix/client/v3/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": world.bot_user_id},
            "password": world.bot_password,
            "device_id": "TOKENTWO",
        },
    )
    settings = world.settings(
        matrix={"password": None, "access_token": login["access_token"], "encryption": False}
    )
    bot = InProcessBot(settings)
    app = await bot.start()
    try:
        lead = world.lead
        deadline = time.monotonic() + 30
        got: list[str] = []
        while len(got) < 3 and time.monotonic() < deadline:
            await lead.sync(timeout_ms=1000)
            got = [
                e["content"]["body"]
                for e in lead.events
                if e.get("sender") == world.bot_user_id
                and str(e.get("content", {}).get("body", "")).startswith("kept")
            ]
        assert got == ["kept 0", "kept 1", "kept 2"]
    finally:
        await bot.stop()


async def test_faults_start_waits_for_a_homeserver_that_is_not_there_yet(
    fault_world: BotWorld, proxy: FaultProxy
) -> None:
    world = fault_world
    # Connection refused first (nothing listens on the port yet), then a proxy's 502s.
    await proxy.stop()
    down = {"errcode": "M_UNKNOWN", "error": "Bad Gateway"}
    bot = InProcessBot(world.settings(matrix={"homeserver": proxy.url, "encryption": False}))
    starting = asyncio.create_task(bot.start())
    await asyncio.sleep(2)
    assert not starting.done(), "the bot gave up on a homeserver that is not up yet"
    proxy.add(Rule("POST", "/login", 502, down, times=2))
    await proxy.start()
    try:
        await asyncio.wait_for(starting, 60)
        logins = [s.status for s in proxy.seen if s.path.endswith("/login")]
        assert logins[:2] == [502, 502] and logins[-1] == 200
        await wait_ready(world.web_port, timeout=20)
    finally:
        await bot.stop()
