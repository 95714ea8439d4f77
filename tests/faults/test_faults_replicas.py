"""Two real processes on one PostgreSQL database, sends rate-limited, the active killed.

The standby must take over within 15 s; every message is answered exactly once, the
day's tip is posted once and the on-call is paged once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml

from bot.dev.devserver import LocalSynapse, free_port
from tests.faults.test_faults_session import http
from tests.support.botworld import ROOT, BotProcess, BotWorld, make_world, wait_joined
from tests.support.databases import create_pg_database, drop_pg_database, pg_admin_url
from tests.support.mxclient import text_of
from tests.support.replies import count_replies, wait_all_answered
from tests.tips.helpers import campaign_doc, write_campaigns

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

QUESTIONS = 12


@pytest.fixture
async def limited_world(
    synapse: LocalSynapse, tmp_path: Path, postgres_url: str
) -> AsyncIterator[BotWorld]:
    # The session's homeserver; the bot's own message rate is limited below (a per-user
    # override, stricter than Synapse's default burst): no second homeserver to start.
    url = await create_pg_database(pg_admin_url())
    world = await make_world(synapse, tmp_path / "world", db_url=url)
    yield world
    await world.close()
    await drop_pg_database(pg_admin_url(), url)


async def override_rate_limit(world: BotWorld, user_id: str, per_second: int, burst: int) -> None:
    admin = await asyncio.to_thread(
        world.hs.register, f"rl-{world.dir.parent.name}", "pw", admin=True
    )
    await http(
        "POST",
        f"{world.hs.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit",
        admin["access_token"],
        {"messages_per_second": per_second, "burst_count": burst},
    )


async def role(port: int) -> tuple[int, str]:
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"http://127.0.0.1:{port}/readyz", timeout=aiohttp.ClientTimeout(3)) as r,
        ):
            return r.status, (await r.json()).get("role", "")
    except (aiohttp.ClientError, TimeoutError):
        return 0, ""


async def test_faults_standby_takes_over_and_nothing_is_doubled(
    limited_world: BotWorld, tmp_path: Path
) -> None:
    world = limited_world
    now = datetime.now(UTC)
    due = now - timedelta(minutes=2)
    if due.date() != now.date():
        pytest.skip("too close to midnight UTC for a same-day catch-up")
    day = now.date().isoformat()
    tips_file = write_campaigns(
        tmp_path / "tips.yaml",
        campaign_doc("race", start=day, end=day, at=due.strftime("%H:%M"), tz="UTC"),
    )
    alice = await world.user("alice")
    await override_rate_limit(world, world.bot_user_id, 3, 3)  # the bot's sends must wait
    await alice.drain()

    ports: dict[str, int] = {}
    bots: dict[str, BotProcess] = {}
    for name in ("a", "b"):
        ports[name] = free_port()
        config = world.config(
            matrix={
                "store_path": str(world.dir / f"store-{name}"),
                "device_name": name,
                "encryption": False,  # the on-call's plain client reads the page DM
            },
            web={"port": ports[name]},
            tips={"file": str(tips_file), "check_interval": 0.5, "catch_up": "3h"},
            incidents={
                "oncall": [world.lead.user_id],
                "playbooks_file": str(ROOT / "config" / "playbooks.yaml"),
            },
        )
        path = world.dir / f"config-{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        bots[name] = BotProcess(world, path)
        bots[name].log_path = world.dir / f"bot-{name}.log"
        bots[name].start()
    try:
        roles: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while sorted(roles.values()) != ["active", "standby"] and time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            for name, port in ports.items():
                status, r = await role(port)
                if status == 200:
                    roles[name] = r
        assert sorted(roles.values()) == ["active", "standby"], roles
        active = next(n for n, r in roles.items() if r == "active")
        standby = next(n for n, r in roles.items() if r == "standby")
        await wait_joined(world, world.helpdesk)

        incident = await alice.send(world.helpdesk, "!incident device I lost my work laptop")
        questions = [await alice.send(world.helpdesk, f"!ping {i}") for i in range(QUESTIONS)]
        deadline = time.monotonic() + 60
        while len(count_replies(alice, world.bot_user_id, questions)) < 4:
            assert time.monotonic() < deadline, "the active replica answered nothing"
            await alice.sync(timeout_ms=500)
        bots[active].kill()  # mid-burst: rate-limited replies are still queued
        killed = time.monotonic()

        while (await role(ports[standby])) != (200, "active"):
            assert time.monotonic() - killed < 15, "the standby did not take over in 15 s"
            await asyncio.sleep(0.2)

        counts = await wait_all_answered(
            alice, world.bot_user_id, [incident, *questions], timeout=90
        )
        logs = "\n".join(b.logs()[-3000:] for b in bots.values())
        assert len(counts) == QUESTIONS + 1, f"answered {len(counts)}\n{logs}"
        assert set(counts.values()) == {1}, f"doubled: {counts}\n{logs}"
        tips = [
            e
            for e in alice.events
            if e.get("sender") == world.bot_user_id and "Tip 1 of race" in text_of(e)
        ]
        assert len(tips) == 1, f"{len(tips)} tips\n{logs}"

        # The on-call (the lead) is paged exactly once, in a DM.
        lead = world.lead
        deadline = time.monotonic() + 30
        pages: list[dict] = []
        while not pages and time.monotonic() < deadline:
            await lead.sync(timeout_ms=500)
            for room_id in list(lead.invites):
                await lead.join(room_id)
            pages = [
                e
                for e in lead.events
                if e.get("sender") == world.bot_user_id and "You are on call" in text_of(e)
            ]
        await asyncio.sleep(2)
        await lead.sync(timeout_ms=500)
        pages = [
            e
            for e in lead.events
            if e.get("sender") == world.bot_user_id and "You are on call" in text_of(e)
        ]
        assert len(pages) == 1, f"{len(pages)} pages\n{logs}"
    finally:
        for bot in bots.values():
            bot.kill()
