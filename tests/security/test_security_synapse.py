"""Team rights, DMs and abuse limits against a real Synapse."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

import pytest
from sqlalchemy import func, select, text

from bot.matrix.rooms import repin
from bot.storage.models import HandledEvent
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import MatrixUser, text_of

pytestmark = pytest.mark.integration


def bot_said(world: BotWorld, room: str | None, needle: str):  # type: ignore[no-untyped-def]
    return lambda e: (
        e.get("type") == "m.room.message"
        and e.get("sender") == world.bot_user_id
        and (room is None or e.get("room_id") == room)
        and needle in text_of(e)
    )


async def expect(user: MatrixUser, world: BotWorld, room: str | None, needle: str) -> dict:
    """The bot's latest message containing ``needle`` (accepting the bot's invites)."""
    deadline = time.monotonic() + 30
    pred = bot_said(world, room, needle)
    while time.monotonic() < deadline:
        found = [e for e in user.events if pred(e)]
        if found:
            return found[-1]
        await user.sync(timeout_ms=500)
        for room_id in list(user.invites):
            await user.join(room_id)
    raise AssertionError(f"no bot message with {needle!r} for {user.user_id}")


async def settle(user: MatrixUser, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await user.sync(timeout_ms=300)
        for room_id in list(user.invites):
            await user.join(room_id)


async def wait_member(user: MatrixUser, room: str, member: str) -> None:
    deadline = time.monotonic() + 30
    while member not in await user.joined_members(room):
        assert time.monotonic() < deadline, f"{member} never joined {room}"
        await asyncio.sleep(0.1)


async def start(world: BotWorld, oncall: MatrixUser) -> InProcessBot:
    settings = world.settings(
        security_team=[world.lead.user_id, oncall.user_id],
        incidents={"oncall": [oncall.user_id]},
        limits={"enabled": True},
    )
    bot = InProcessBot(settings, plaintext_dms=True)
    await bot.start()
    await wait_joined(world, world.triage)
    await wait_joined(world, world.helpdesk)
    return bot


async def test_security_public_room_limits_and_fake_dms(world: BotWorld) -> None:
    oncall, mallory = await world.user("oncall"), await world.user("mallory")
    bot = await start(world, oncall)
    try:
        app = bot.app
        assert app is not None
        for i in range(25):
            await mallory.send(world.helpdesk, f"!incident device lost my laptop {i}")
        await expect(mallory, world, world.helpdesk, "taking a short pause")

        async def handled() -> int:
            async with app.db.sessions() as session:
                query = select(func.count()).where(HandledEvent.room_id == world.helpdesk)
                return int(await session.scalar(query.select_from(HandledEvent)) or 0)

        deadline = time.monotonic() + 60
        while await handled() < 25:
            assert time.monotonic() < deadline, "the bot did not handle the flood"
            await asyncio.sleep(0.2)
        await expect(oncall, world, None, "You are on call")
        await settle(oncall)
        await settle(mallory, 1.0)
        pages = [e for e in oncall.events if bot_said(world, None, "You are on call")(e)]
        assert len(pages) == 1
        notices = [e for e in mallory.events if bot_said(world, None, "short pause")(e)]
        assert len(notices) == 1

        # Team verbs are refused in the public room, with the same text for the lead.
        refusal = "work only in the triage room or in a direct message"
        for verb in ("!show INC-1", "!tickets all", "!export INC-1", "!ack INC-1"):
            await world.lead.send(world.helpdesk, verb)
            got = await expect(world.lead, world, world.helpdesk, refusal)
            assert "laptop" not in text_of(got)

        # A public room with only the lead and the bot is not a DM; neither is a private
        # room the lead invited the bot to without is_direct.
        public = await world.lead.create_room(public=True, invite=[world.bot_user_id])
        private = await world.lead.create_room(invite=[world.bot_user_id])
        for room in (public, private):
            await wait_member(world.lead, room, world.bot_user_id)
            assert len(await world.lead.joined_members(room)) == 2
            for verb in ("!show INC-1", "!tickets all", "!export INC-1"):
                await world.lead.send(room, verb)
                got = await expect(world.lead, world, room, refusal)
                assert "laptop" not in text_of(got)
        # A real DM from the lead still works for the team.
        dm = await world.lead.create_dm(world.bot_user_id)
        await wait_member(world.lead, dm, world.bot_user_id)
        await world.lead.send(dm, "!show INC-1")
        shown = await expect(world.lead, world, dm, "INC-1")
        assert "laptop" in text_of(shown)
    finally:
        await bot.stop()


async def test_security_kick_from_triage_and_moved_alias(world: BotWorld, caplog) -> None:  # type: ignore[no-untyped-def]
    member, mallory = await world.user("member"), await world.user("mallory")
    await world.lead.invite(world.triage, member.user_id)
    await member.join(world.triage)
    settings = world.settings()  # the team: the lead by config, the member by the room
    bot = InProcessBot(settings)
    await bot.start()
    await wait_joined(world, world.triage)
    try:
        dm = await member.create_dm(world.bot_user_id)
        await wait_member(member, dm, world.bot_user_id)
        await member.send(dm, "!incidents")
        await expect(member, world, dm, "No open incidents")
        # The lead removes the bot from the triage room: the member's rights end at once.
        await world.lead.request(
            "POST",
            f"/_matrix/client/v3/rooms/{quote(world.triage)}/kick",
            {"user_id": world.bot_user_id},
        )
        await member.send(dm, "!incidents")
        await expect(member, world, dm, "is for the security team")
    finally:
        await bot.stop()

    # Someone repoints the triage alias to their own room and invites the bot there.
    await world.lead.invite(world.triage, world.bot_user_id)
    evil = await mallory.create_room(invite=[world.bot_user_id])
    alias_path = f"/_matrix/client/v3/directory/room/{quote(world.triage_alias)}"
    await world.lead.request("DELETE", alias_path)
    await mallory.request("PUT", alias_path, {"room_id": evil})
    bot = InProcessBot(settings)
    await bot.start()
    try:
        await wait_joined(world, world.triage)
        warning = await expect(world.lead, world, world.triage, "Security warning")
        assert evil in text_of(warning)
        assert bot.app is not None and bot.app.services.rooms.triage == world.triage
        await wait_member(mallory, evil, world.bot_user_id)
        mdm = await mallory.create_dm(world.bot_user_id)
        await wait_member(mallory, mdm, world.bot_user_id)
        await mallory.send(mdm, "!incidents")
        await expect(mallory, world, mdm, "is for the security team")
        await member.send(dm, "!incidents")
        await expect(member, world, dm, "No open incidents")
    finally:
        await bot.stop()
    assert any("SECURITY WARNING: rooms.triage" in r.getMessage() for r in caplog.records)
    # `helpdesk-bot rooms repin` is how an operator follows an intended move.
    assert await repin(settings) == (world.triage, evil)


async def test_security_redaction_purges_stored_text(world: BotWorld) -> None:
    alice = await world.user("alice")
    bot = InProcessBot(world.settings(), plaintext_dms=True)
    await bot.start()
    await wait_joined(world, world.triage)
    try:
        dm = await alice.create_dm(world.bot_user_id)
        await wait_member(alice, dm, world.bot_user_id)
        filed = await alice.send(dm, "!ticket my token is tok-5c1e7-secret")
        await expect(alice, world, dm, "T-1")
        await alice.request(
            "PUT", f"/_matrix/client/v3/rooms/{quote(dm)}/redact/{quote(filed)}/r1", {}
        )
        app = bot.app
        assert app is not None
        deadline = time.monotonic() + 30
        while True:  # until the bot has handled the redaction
            async with app.db.sessions() as session:
                stored = await session.scalar(text("SELECT text FROM tickets WHERE id = 1"))
            if stored is None:
                break
            assert time.monotonic() < deadline, "the redaction was not handled"
            await asyncio.sleep(0.2)
        await world.lead.send(world.triage, "!show T-1")
        shown = text_of(await expect(world.lead, world, world.triage, "History:"))
        assert "redacted" in shown and "tok-5c1e7" not in shown
        async with app.db.sessions() as session:
            for table in ("tickets", "ticket_comments", "outbox"):
                dump = str((await session.execute(text(f"SELECT * FROM {table}"))).all())
                assert "tok-5c1e7" not in dump, table
    finally:
        await bot.stop()
