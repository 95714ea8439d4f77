"""Tips on a real Synapse with a controlled clock: once at the local time, whatever happens."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.clock import ManualClock
from bot.dev.devserver import LocalSynapse, free_port
from bot.features.tips import TipsPlugin
from bot.features.tips.models import MISSED, TipMark, TipPost
from bot.storage import Database
from tests.support.botworld import BotWorld, InProcessBot, make_world, wait_joined
from tests.support.databases import truncate_all
from tests.support.mxclient import MatrixUser, reply_to
from tests.tips.helpers import campaign_doc, utc, write_campaigns

pytestmark = pytest.mark.integration


def tips_settings(world: BotWorld, tips_file: Path, **overrides):
    tips = {"file": str(tips_file), "check_interval": 0.1, "min_count": 1}
    return world.settings(tips={**tips, **overrides.pop("tips", {})}, **overrides)


def is_tip(world: BotWorld, title: str | None = None):
    def pred(e: dict) -> bool:
        body = e.get("content", {}).get("body", "")
        return (
            e.get("type") == "m.room.message"
            and e.get("sender") == world.bot_user_id
            and e.get("room_id") == world.helpdesk
            and body.startswith("🔐")
            and (title is None or title in body)
        )

    return pred


async def start(settings, clock: ManualClock, world: BotWorld) -> InProcessBot:
    bot = InProcessBot(settings, clock=clock)
    await bot.start()
    await wait_joined(world, world.helpdesk)
    return bot


async def ticked(bot: InProcessBot, n: int = 2) -> None:
    """Until the bot's tips job has run ``n`` more times."""
    assert bot.app is not None and bot.jobs is not None
    assert isinstance(bot.app.plugin("tips"), TipsPlugin)
    await asyncio.wait_for(bot.jobs.wait("tips-daily", n), 60)


async def settle(world: BotWorld, user: MatrixUser) -> None:
    """Until a !ping sent now is answered: anything queued before it was sent before it."""
    question = await user.send(world.helpdesk, "!ping")
    pong = await user.wait_for(lambda e: reply_to(e) == question, 30)
    assert pong is not None, "the bot did not answer !ping"


async def count_tips(world: BotWorld, user: MatrixUser, title: str | None = None) -> int:
    await user.sync(timeout_ms=0)
    return sum(1 for e in user.events if is_tip(world, title)(e))


@pytest.fixture
def tips_file(tmp_path: Path) -> Path:
    return write_campaigns(
        tmp_path / "tips.yaml",
        campaign_doc(),  # 1–5 December, 09:00 Europe/Berlin (08:00 UTC)
        campaign_doc("fall", start="2026-10-30", end="2026-11-03", tz="America/New_York"),
    )


async def test_tips_posted_once_at_local_time_and_not_after_restart(
    world: BotWorld, tips_file: Path
) -> None:
    clock = ManualClock(utc(2026, 12, 2, 7, 59, 0))
    settings = tips_settings(world, tips_file)
    alice = await world.user("alice")
    bot = await start(settings, clock, world)
    try:
        await ticked(bot)
        await settle(world, alice)
        assert await count_tips(world, alice) == 0, "posted before 09:00 local"
        clock.set(utc(2026, 12, 2, 8, 0, 5))
        tip = await alice.wait_for(is_tip(world, "Tip 2 of month"), 30)
        assert tip is not None, "no tip at 09:00 local"
        assert tip["content"]["msgtype"] == "m.notice"
        assert "No judgement" in tip["content"]["body"] and "✅" in tip["content"]["body"]
        assert "<strong>thing 2</strong>" in tip["content"]["formatted_body"]
    finally:
        await bot.stop()
    # Restart right after posting, still inside the catch-up window.
    clock.advance(timedelta(seconds=30))
    bot = await start(settings, clock, world)
    try:
        await ticked(bot, 3)
        await settle(world, alice)
        assert await count_tips(world, alice) == 1
        # Someone did it: ✅ is counted (anonymously) and shows in the team's stats.
        await alice.react(world.helpdesk, tip["event_id"], "✅")
        db = bot.app.db  # type: ignore[union-attr]
        for _ in range(300):
            async with db.sessions() as s:
                if await s.scalar(select(func.count()).select_from(TipMark)):
                    break
            await asyncio.sleep(0.1)
        question = await world.lead.send(world.triage, "!tip stats")
        reply = await world.lead.wait_for(lambda e: reply_to(e) == question, 30)
        assert reply is not None
        assert "day 2 (Tip 2 of month): done 1, stuck 0" in reply["content"]["body"]
        assert alice.user_id not in reply["content"]["body"]
    finally:
        await bot.stop()


async def test_tips_catch_up_within_window_skip_outside(world: BotWorld, tips_file: Path) -> None:
    settings = tips_settings(world, tips_file)
    alice = await world.user("alice")
    # Down at 09:00; starts at 11:30 local: within the 3 h window, so it posts.
    clock = ManualClock(utc(2026, 12, 2, 10, 30))
    bot = await start(settings, clock, world)
    try:
        assert await alice.wait_for(is_tip(world, "Tip 2 of month"), 30) is not None
    finally:
        await bot.stop()
    # Down at 09:00 the next day; starts at 12:30 local: too late, skipped and logged.
    clock.set(utc(2026, 12, 3, 11, 30))
    bot = await start(settings, clock, world)
    try:
        await ticked(bot)
        await settle(world, alice)
        assert await count_tips(world, alice, "Tip 3 of month") == 0
        async with bot.app.db.sessions() as s:  # type: ignore[union-attr]
            statuses = {p.day: p.status for p in await s.scalars(select(TipPost))}
        assert statuses[3] == MISSED
        # Running through the next morning: day 4 at 09:00, and no old tip with it.
        clock.set(utc(2026, 12, 4, 8, 0, 5))
        assert await alice.wait_for(is_tip(world, "Tip 4 of month"), 30) is not None
        await settle(world, alice)
        assert await count_tips(world, alice) == 2
    finally:
        await bot.stop()


async def test_tips_dst_change_day_posts_at_local_hour(world: BotWorld, tips_file: Path) -> None:
    # 1 Nov 2026, New York falls back: 09:00 EST is 14:00 UTC (13:00 UTC the day before).
    clock = ManualClock(utc(2026, 11, 1, 13, 30))
    alice = await world.user("alice")
    bot = await start(tips_settings(world, tips_file), clock, world)
    try:
        await ticked(bot)
        await settle(world, alice)
        assert await count_tips(world, alice, "of fall") == 0, "posted at 08:30 local"
        clock.set(utc(2026, 11, 1, 14, 0, 5))
        tip = await alice.wait_for(is_tip(world, "Tip 3 of fall"), 30)
        assert tip is not None
    finally:
        await bot.stop()


@pytest.fixture
async def pg_world(
    synapse: LocalSynapse, tmp_path: Path, postgres_url: str
) -> AsyncIterator[BotWorld]:
    w = await make_world(synapse, tmp_path / "pg-world", db_url=postgres_url)
    yield w
    await w.close()
    await truncate_all(postgres_url)


async def test_tips_two_replicas_on_postgres_post_exactly_once(
    pg_world: BotWorld, tips_file: Path
) -> None:
    world = pg_world
    clock = ManualClock(utc(2026, 12, 2, 7, 59, 0))
    alice = await world.user("alice")
    settings = [
        tips_settings(
            world,
            tips_file,
            matrix={"store_path": str(world.dir / f"store-{i}")},
            web={"port": free_port()},
        )
        for i in range(2)
    ]
    active = InProcessBot(settings[0], clock=clock)
    # One active replica (bot/leader.py): the second waits as a standby and posts nothing.
    standby = App(settings[1], clock=clock)
    waiting: asyncio.Task[None] | None = None
    try:
        await active.start()
        waiting = asyncio.create_task(standby.start())
        await wait_joined(world, world.helpdesk)
        await ticked(active)
        for _ in range(300):
            if standby.leader.role == "standby":
                break
            await asyncio.sleep(0.1)
        assert standby.leader.role == "standby" and not waiting.done()
        clock.set(utc(2026, 12, 2, 8, 0, 5))
        await ticked(active, 3)
        assert await alice.wait_for(is_tip(world, "Tip 2 of month"), 30) is not None
        await settle(world, alice)
        assert await count_tips(world, alice) == 1
        db = Database(world.db_url)
        try:
            async with db.sessions() as s:
                assert await s.scalar(select(func.count()).select_from(TipPost)) == 1
        finally:
            await db.close()
    finally:
        await standby.stop()
        if waiting is not None:
            await waiting
        await active.stop()


async def test_tips_crash_after_claim_before_send_posts_once_on_restart(
    world: BotWorld, tips_file: Path
) -> None:
    """The claim and the queued message were committed, then the process died unsent."""
    from bot.storage import migrate
    from tests.tips.helpers import make_router, make_services

    clock = ManualClock(utc(2026, 12, 2, 8, 0, 5))
    await migrate.upgrade(world.db_url)
    db = Database(world.db_url)
    try:
        services = make_services(db, tips_file, clock)
        services.rooms.helpdesk = world.helpdesk
        _, dying = make_router(services)
        await dying.tick()  # claimed and queued; this "process" never sends
        assert await services.outbox.pending_count() == 1
    finally:
        await db.close()
    alice = await world.user("alice")
    clock.advance(timedelta(minutes=1))
    bot = await start(tips_settings(world, tips_file), clock, world)
    try:
        assert await alice.wait_for(is_tip(world, "Tip 2 of month"), 30) is not None
        await ticked(bot, 3)
        await settle(world, alice)
        assert await count_tips(world, alice) == 1
    finally:
        await bot.stop()
