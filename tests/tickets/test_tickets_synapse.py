"""Tickets on a real Synapse: filing, the DM, triage, relays, anonymity, nudges, restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.features.tickets.jobs import nudge_new_tickets
from bot.features.tickets.models import Ticket, TicketComment, TicketEvent, TicketMessage
from bot.storage import Database
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import MatrixUser, reply_to, text_of

pytestmark = pytest.mark.integration

SECRET = "I typed my ssh passphrase correct-horse-battery into a fake login page"
WAIT = 30


def from_bot(world: BotWorld, room: str, contains: str = ""):
    return lambda e: (
        e.get("type") == "m.room.message"
        and e.get("sender") == world.bot_user_id
        and e.get("room_id") == room
        and contains in text_of(e)
    )


async def ask(world: BotWorld, user: MatrixUser, room: str, body: str) -> str:
    """Send ``body`` and return the text of the bot's reply to it."""
    event_id = await user.send(room, body)
    reply = await user.wait_for(
        lambda e: e.get("sender") == world.bot_user_id and reply_to(e) == event_id, WAIT
    )
    assert reply is not None, f"no reply to {body!r}"
    return text_of(reply)


async def accept_dm(world: BotWorld, user: MatrixUser) -> str:
    """Wait for the bot's DM invite, join it, return the room id."""
    for _ in range(WAIT * 2):
        await user.sync(timeout_ms=500)
        if user.invites:
            room_id = next(iter(user.invites))
            await user.join(room_id)
            return room_id
    raise AssertionError("the bot never opened a DM")


@pytest.mark.plaintext_dms  # alice reads the bot's DM with a plain client
async def test_tickets_lifecycle_on_synapse(world: BotWorld, running_bot: InProcessBot) -> None:
    alice = await world.user("alice")
    outsider = await world.user("outsider")
    lead = world.lead
    public = await ask(world, alice, world.helpdesk, f"!ticket #access {SECRET}")
    assert "T-1" in public and "correct-horse" not in public
    dm = await accept_dm(world, alice)
    filed = await alice.wait_for(from_bot(world, dm, "T-1"), WAIT)
    assert filed is not None and "no judgement" in text_of(filed)
    assert lead.user_id in text_of(filed)  # who can see it, by name
    announced = await lead.wait_for(from_bot(world, world.triage, "New ticket T-1"), WAIT)
    assert announced is not None and alice.user_id in text_of(announced)
    assert "#access" in text_of(announced)

    assert "security team" in await ask(world, outsider, world.helpdesk, "!claim T-1")
    assert "security team" in await ask(world, outsider, world.helpdesk, "!show T-1")

    assert "yours" in await ask(world, lead, world.triage, "!claim T-1")
    await ask(world, lead, world.triage, "!reply T-1 Please change it now, we can help")
    relay = await alice.wait_for(from_bot(world, dm, "Please change it now"), WAIT)
    assert relay is not None
    # The reporter answers in the DM by replying to the relayed message.
    answer = await alice.send(
        dm,
        "done, changed",
        extra={"m.relates_to": {"m.in_reply_to": {"event_id": relay["event_id"]}}},
    )
    ack = await alice.wait_for(
        lambda e: e.get("sender") == world.bot_user_id and reply_to(e) == answer, WAIT
    )
    assert ack is not None and "added to T-1" in text_of(ack)
    assert await lead.wait_for(from_bot(world, world.triage, "added a comment"), WAIT)

    assert "closed" in await ask(world, lead, world.triage, "!close T-1 answered glad to help")
    closed = await alice.wait_for(from_bot(world, dm, "closed (answered)"), WAIT)
    assert closed is not None and "glad to help" in text_of(closed)
    shown = await ask(world, lead, world.triage, "!show T-1")
    assert "done, changed" in shown and "claimed" in shown and "closed (answered)" in shown

    # Nothing the bot said in the public room carries the ticket's text.
    await alice.sync(timeout_ms=0)
    for event in alice.events:
        if event.get("room_id") == world.helpdesk and event.get("sender") == world.bot_user_id:
            assert "correct-horse" not in text_of(event)


@pytest.mark.plaintext_dms
async def test_tickets_anonymous_on_synapse(world: BotWorld, running_bot: InProcessBot) -> None:
    carol = await world.user("carol")
    dm = await carol.create_dm(world.bot_user_id)
    for _ in range(WAIT * 2):
        if world.bot_user_id in await carol.joined_members(dm):
            break
        await carol.sync(timeout_ms=500)
    answer = await ask(world, carol, dm, f"!ticket anonymous {SECRET}")
    assert "Anonymous" in answer and "Limits" in answer
    announced = await world.lead.wait_for(from_bot(world, world.triage, "New ticket T-1"), WAIT)
    assert announced is not None
    assert carol.user_id not in text_of(announced) and "anonymous" in text_of(announced)
    assert carol.user_id not in await ask(world, world.lead, world.triage, "!show T-1")
    await ask(world, world.lead, world.triage, "!reply T-1 we are on it")
    assert await carol.wait_for(from_bot(world, dm, "we are on it"), WAIT)
    assert "T-1" in await ask(world, carol, dm, "!mytickets")

    db = Database(world.db_url)
    try:
        async with db.sessions() as session:
            rows = [
                row
                for model in (Ticket, TicketComment, TicketEvent, TicketMessage)
                for row in await session.scalars(select(model))
            ]
    finally:
        await db.close()
    assert rows
    localpart = carol.user_id[1:].split(":")[0]
    for row in rows:
        for column in row.__table__.columns:
            assert localpart not in str(getattr(row, column.key)), (row, column.key)


async def test_tickets_nudge_once_per_interval_on_synapse(world: BotWorld) -> None:
    clock = ManualClock(datetime.now(UTC))
    bot = InProcessBot(
        world.settings(tickets={"nudge_after": "1h", "check_every": "1h"}),
        clock,
        plaintext_dms=True,
    )
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        dave = await world.user("dave")
        await ask(world, dave, world.helpdesk, "!ticket is this email real?")
        services = bot.app.services  # type: ignore[union-attr]
        clock.advance(timedelta(minutes=59))
        assert await nudge_new_tickets(services) == 0
        clock.advance(timedelta(minutes=2))
        assert await nudge_new_tickets(services) == 1
        assert await nudge_new_tickets(services) == 0
        clock.advance(timedelta(minutes=30))
        assert await nudge_new_tickets(services) == 0
        clock.advance(timedelta(minutes=30))
        assert await nudge_new_tickets(services) == 1
        reminders = await world.lead.wait_for_all(
            from_bot(world, world.triage, "Reminder: T-1"), 2, WAIT
        )
        assert len(reminders) == 2
        assert "1h" in text_of(reminders[0]) and "2h" in text_of(reminders[1])
    finally:
        await bot.stop()


async def test_tickets_survive_restart(world: BotWorld) -> None:
    bot = InProcessBot(world.settings(), plaintext_dms=True)
    await bot.start()
    await wait_joined(world, world.helpdesk)
    erin = await world.user("erin")
    await ask(world, erin, world.helpdesk, "!ticket #vpn my vpn token stopped working")
    await ask(world, world.lead, world.triage, "!claim T-1")
    await bot.stop()
    again = InProcessBot(world.settings(), plaintext_dms=True)
    await again.start()
    try:
        shown = await ask(world, world.lead, world.triage, "!show T-1")
        assert "in progress" in shown and world.lead.user_id in shown and "#vpn" in shown
        listed = await ask(world, world.lead, world.triage, "!tickets mine")
        assert "T-1" in listed
    finally:
        await again.stop()
