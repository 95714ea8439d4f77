"""Owners reconfirm on a real Synapse, with a controlled clock: DM → 👍 and 👎."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.features.ownership import reconfirm
from bot.features.ownership.importer import import_map
from bot.features.ownership.models import Area, Reconfirmation
from bot.storage import Database, migrate
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import MatrixUser, reply_to, text_of

pytestmark = pytest.mark.integration
WAIT = 30


async def accept_dm(user: MatrixUser) -> str:
    """Wait for the bot's DM invite, join it, return the room id."""
    for _ in range(WAIT * 2):
        await user.sync(timeout_ms=500)
        if user.invites:
            room_id = next(iter(user.invites))
            await user.join(room_id)
            return room_id
    raise AssertionError("the bot never opened a DM")


async def rows(db_url: str) -> dict[str, Reconfirmation]:
    db = Database(db_url)
    try:
        async with db.sessions() as session:
            return {r.area_name: r for r in await session.scalars(select(Reconfirmation))}
    finally:
        await db.close()


async def area(db_url: str, name: str) -> Area:
    db = Database(db_url)
    try:
        async with db.sessions() as session:
            found = await session.scalar(select(Area).where(Area.name == name))
            assert found is not None
            return found
    finally:
        await db.close()


async def until(check, timeout: float = WAIT):  # type: ignore[no-untyped-def]
    for _ in range(int(timeout * 4)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.25)
    raise AssertionError("condition never became true")


async def test_ownership_reconfirm_dm_thumbs_up_and_down_on_synapse(world: BotWorld) -> None:
    owner = await world.user("owner")
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    stale = (clock() - timedelta(days=200)).date().isoformat()
    await migrate.upgrade(world.db_url)
    db = Database(world.db_url)
    async with db.sessions.begin() as session:
        await import_map(
            session,
            f"areas:\n"
            f"  - {{name: Release signing, owners: ['{owner.user_id}'], verified: {stale}}}\n"
            f"  - {{name: Build runners, owners: ['{owner.user_id}'], verified: {stale}}}\n",
            actor="test",
            now=clock(),
        )
    await db.close()
    bot = InProcessBot(world.settings(), clock, plaintext_dms=True)
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        services = bot.app.services  # type: ignore[union-attr]
        service = bot.app.plugin("ownership").service  # type: ignore[union-attr,attr-defined]
        assert await reconfirm.send_due(services, service) == 2  # type: ignore[arg-type]
        dm = await accept_dm(owner)
        asks = await owner.wait_for_all(
            lambda e: e.get("room_id") == dm and "Still the owner of" in text_of(e), 2, WAIT
        )
        by_area = {
            name: e["event_id"] for e in asks for name in ("Release signing", "Build runners")
            if f"Still the owner of {name}?" in text_of(e)
        }  # fmt: skip
        assert len(by_area) == 2
        assert "👍 yes · 👎 no · reply with who" in text_of(asks[0])
        await owner.react(dm, by_area["Release signing"], "👍")
        await owner.react(dm, by_area["Build runners"], "👎")

        async def answered() -> dict[str, Reconfirmation] | None:
            found = await rows(world.db_url)
            done = all(r.status != "pending" for r in found.values())
            return found if done and len(found) == 2 else None

        found = await until(answered)
        assert found["Release signing"].status == "yes"
        assert found["Build runners"].status == "no"
        signing = await area(world.db_url, "Release signing")
        assert signing.verified_by == owner.user_id
        assert signing.last_verified is not None
        assert signing.last_verified.date() == clock().date()

        gaps_id = await world.lead.send(world.triage, "!owners gaps")
        gaps = await world.lead.wait_for(lambda e: reply_to(e) == gaps_id, WAIT)
        number = found["Build runners"].id
        assert gaps is not None and f"#{number} Build runners" in text_of(gaps)
        accept_id = await world.lead.send(world.triage, f"!owners accept {number}")
        accepted = await world.lead.wait_for(lambda e: reply_to(e) == accept_id, WAIT)
        assert accepted is not None and "Build runners" in text_of(accepted)
        assert (await area(world.db_url, "Build runners")).owners == []

        # the clock moves: nothing is asked twice within reconfirm_every...
        clock.advance(timedelta(days=30))
        assert await reconfirm.send_due(services, service) == 0  # type: ignore[arg-type]
        # ...and after it the freshly verified area is asked again
        clock.advance(timedelta(days=61))
        assert await reconfirm.send_due(services, service) == 1  # type: ignore[arg-type]
        again = await owner.wait_for_all(
            lambda e: e.get("room_id") == dm and "Still the owner of Release signing"
            in text_of(e), 2, WAIT,
        )  # fmt: skip
        assert len(again) == 2
    finally:
        await bot.stop()
