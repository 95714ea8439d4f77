"""Incidents against a real Synapse: intake in a DM, paging, escalation, restart, export."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import MatrixUser, reply_to, text_of

pytestmark = pytest.mark.integration

SECRET = "left it in a taxi on Baker Street"


def said(world: BotWorld, room: str | None, needle: str):
    return lambda e: (
        e.get("type") == "m.room.message"
        and e.get("sender") == world.bot_user_id
        and (room is None or e.get("room_id") == room)
        and needle in text_of(e)
    )


async def expect(user: MatrixUser, world: BotWorld, room: str | None, needle: str) -> dict:
    """Wait for a bot message containing ``needle`` (accepting the bot's DM invites)."""
    deadline = time.monotonic() + 30
    pred = said(world, room, needle)
    while time.monotonic() < deadline:
        found = [e for e in user.events if pred(e)]
        if found:
            return found[-1]
        await user.sync(timeout_ms=500)
        for room_id in list(user.invites):
            await user.join(room_id)
    raise AssertionError(f"no bot message with {needle!r} for {user.user_id}")


async def ask(user: MatrixUser, world: BotWorld, room: str, body: str, needle: str) -> dict:
    await user.send(room, body)
    return await expect(user, world, room, needle)


async def open_dm(user: MatrixUser, world: BotWorld) -> str:
    room = await user.create_dm(world.bot_user_id)
    deadline = time.monotonic() + 30
    while world.bot_user_id not in await user.joined_members(room):
        assert time.monotonic() < deadline, "bot never joined the DM"
        await asyncio.sleep(0.1)
    return room


async def start_bot(world: BotWorld, clock=None, **incidents) -> InProcessBot:  # type: ignore[no-untyped-def]
    oncall = incidents.pop("team")
    settings = world.settings(
        security_team=[world.lead.user_id, *oncall],
        incidents={"oncall": oncall, **incidents},
    )
    # The on-call people read the bot's DMs with a plain (non-encrypting) client.
    bot = InProcessBot(settings, **({"clock": clock} if clock else {}), plaintext_dms=True)
    await bot.start()
    await wait_joined(world, world.triage)
    return bot


async def test_incidents_guided_intake_pages_and_exports(world: BotWorld) -> None:
    alice, oncall, mallory = [await world.user(n) for n in ("alice", "oncall", "mallory")]
    bot = await start_bot(world, team=[oncall.user_id])
    try:
        dm = await open_dm(alice, world)
        await ask(alice, world, dm, "!incident", "What kind of incident")
        # The type alone: first steps, INC number and who was alerted come back at once...
        steps = await ask(alice, world, dm, "lost laptop", "Wipe it remotely")
        assert "INC-1" in text_of(steps) and oncall.user_id in text_of(steps)
        assert "What happened?" in text_of(steps)
        # ...and the team is already alerted, before any other answer is given.
        post = await expect(world.lead, world, world.triage, "New incident INC-1")
        assert oncall.user_id in text_of(post) and SECRET not in text_of(post)
        page = await expect(oncall, world, None, "You are on call")
        assert "!ack INC-1" in text_of(page)

        await ask(alice, world, dm, SECRET, "When did it happen")
        await ask(alice, world, dm, "skip", "What is affected")
        await ask(alice, world, dm, "work laptop with ssh keys", "How bad")
        done = await ask(alice, world, dm, "high", "that's everything")
        assert "INC-1" in text_of(done)
        # The answers reach the team in the thread of the incident post.
        update = await expect(world.lead, world, world.triage, "answered every question")
        assert SECRET in text_of(update)
        assert update["content"]["m.relates_to"]["event_id"] == post["event_id"]

        # A thread reply to the post, pinned with 📌, lands in the timeline.
        relates = {
            "rel_type": "m.thread",
            "event_id": post["event_id"],
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": post["event_id"]},
        }
        note = await world.lead.send(
            world.triage, "MDM wipe command sent", extra={"m.relates_to": relates}
        )
        await world.lead.react(world.triage, note, "📌")
        await ask(world.lead, world, world.triage, "!ack INC-1", "acknowledged by")
        report = text_of(await ask(world.lead, world, world.triage, "!export INC-1", "Timeline"))
        assert "MDM wipe command sent" in report and "| ack |" in report
        assert "| paged |" in report and "Wipe it remotely" in report

        # Outsiders are refused and see no report text.
        refused = await ask(mallory, world, world.helpdesk, "!show INC-1", "security team")
        assert SECRET not in text_of(refused)
        assert all(SECRET not in text_of(e) for e in mallory.events)
    finally:
        await bot.stop()


async def test_incidents_intake_survives_restart_and_cancel(world: BotWorld) -> None:
    alice = await world.user("alice")
    bot = await start_bot(world, team=[])
    try:
        dm = await open_dm(alice, world)
        await ask(alice, world, dm, "!incident", "What kind of incident")
        await ask(alice, world, dm, "phishing", "Do not click anything else")
        await expect(world.lead, world, world.triage, "New incident INC-1")  # filed already
    finally:
        await bot.stop()
    bot = await start_bot(world, team=[])
    try:
        # The shipped phishing playbook asks its key question next.
        await ask(alice, world, dm, "I typed my password on a fake page", "yes / no / skip")
        # Cancel after the type: the questions stop, the incident stays, the reporter is told.
        stopped = await ask(alice, world, dm, "cancel", "already know")
        assert "INC-1" in text_of(stopped)
        await expect(world.lead, world, world.triage, "cancelled the intake")
        shown = await ask(world.lead, world, world.triage, "!show INC-1", "Timeline")
        assert "Reporter cancelled the intake" in text_of(shown)
        assert "fake page" in text_of(shown)  # the answer given before the restart is kept
        await ask(alice, world, dm, "!incident", "What kind of incident")  # a fresh start
    finally:
        await bot.stop()


async def test_incidents_escalates_with_controlled_clock(world: BotWorld) -> None:
    alice, primary, backup = [await world.user(n) for n in ("alice", "primary", "backup")]
    clock = ManualClock(datetime.now(UTC))
    bot = await start_bot(
        world,
        clock,
        team=[primary.user_id, backup.user_id],
        escalate_after="15m",
        escalation_check_interval=0.2,
    )
    try:
        dm = await open_dm(alice, world)
        await ask(alice, world, dm, "!incident key my seed phrase was photographed", "INC-1")
        await expect(primary, world, None, "You are on call")
        post = await expect(world.lead, world, world.triage, "New incident INC-1")
        # Not acknowledged within 15 min (high): re-raised, the on-call again, then the backup.
        clock.advance(timedelta(minutes=16))
        up = await expect(world.lead, world, world.triage, "escalating to the on-call")
        assert primary.user_id in text_of(up) and reply_to(up) == post["event_id"]
        clock.advance(timedelta(minutes=15))
        up = await expect(world.lead, world, world.triage, "escalating to the backup on-call")
        assert backup.user_id in text_of(up) and reply_to(up) == post["event_id"]
        await expect(backup, world, None, "You are on call")
        await asyncio.sleep(1)  # several more scheduler runs: nothing is repeated
        await world.lead.sync(timeout_ms=0)
        ups = [e for e in world.lead.events if said(world, world.triage, "escalating")(e)]
        assert len(ups) == 2
    finally:
        await bot.stop()
