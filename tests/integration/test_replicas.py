"""Two real bot processes on one PostgreSQL database: one tip a day, one reply a message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.dev.devserver import LocalSynapse, free_port
from tests.support.botworld import BotProcess, BotWorld, make_world, wait_joined, wait_ready
from tests.support.databases import create_pg_database, drop_pg_database, pg_admin_url
from tests.support.replies import wait_all_answered
from tests.tips.helpers import campaign_doc, write_campaigns

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
async def pg_world(
    synapse: LocalSynapse, tmp_path: Path, postgres_url: str
) -> AsyncIterator[BotWorld]:
    url = await create_pg_database(pg_admin_url())  # empty: the replicas migrate it
    world = await make_world(synapse, tmp_path / "world", db_url=url)
    yield world
    await world.close()
    await drop_pg_database(pg_admin_url(), url)


def replica(world: BotWorld, name: str, tips_file: Path) -> BotProcess:
    config = world.config(
        matrix={"store_path": str(world.dir / f"store-{name}"), "device_name": name},
        web={"port": free_port()},
        tips={"file": str(tips_file), "check_interval": 0.5, "catch_up": "3h"},
    )
    path = world.dir / f"config-{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    bot = BotProcess(world, path)
    bot.log_path = world.dir / f"bot-{name}.log"
    return bot


async def test_replicas_post_one_tip_and_answer_each_message_once(
    pg_world: BotWorld, tmp_path: Path
) -> None:
    world = pg_world
    # A campaign for today whose posting time passed two minutes ago: both replicas find
    # the post due (catch-up) the moment they start, and race for it.
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
    await alice.drain()
    bots = [replica(world, name, tips_file) for name in ("a", "b")]
    for bot in bots:
        bot.start()  # together: they also race to migrate the empty database
    try:
        for bot in bots:
            await wait_ready(int(yaml.safe_load(bot.config_path.read_text())["web"]["port"]))
        await wait_joined(world, world.helpdesk)
        questions = [await alice.send(world.helpdesk, f"!ping {i}") for i in range(30)]
        counts = await wait_all_answered(alice, world.bot_user_id, questions, timeout=90)
        logs = "\n".join(b.logs()[-2000:] for b in bots)
        assert len(counts) == 30, f"answered {len(counts)} of 30\n{logs}"
        assert set(counts.values()) == {1}, f"doubled: {counts}"
        tips = [
            e
            for e in alice.events
            if e.get("sender") == world.bot_user_id
            and "Tip 1 of race" in e.get("content", {}).get("body", "")
        ]
        assert len(tips) == 1, f"{len(tips)} tips posted\n{logs}"
    finally:
        for bot in bots:
            bot.kill()
