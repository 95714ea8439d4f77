"""DMs that find the person, against the real Synapse.

Element opens a DM with its first message: the invite and the message reach the
homeserver before the bot joins. And a remembered DM is not trusted blindly: a person
who left it gets a new one.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.storage import Database
from bot.storage.models import DirectRoom
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import MatrixUser, text_of
from tests.support.replies import is_reply_from

pytestmark = [pytest.mark.integration]


async def joined_by_bot(world: BotWorld, user: MatrixUser, room_id: str) -> None:
    for _ in range(300):
        if world.bot_user_id in await user.joined_members(room_id):
            return
        await user.sync(timeout_ms=100)
    raise AssertionError(f"bot never joined {room_id}")


async def test_faults_dm_first_message_before_the_bot_joined_is_answered(
    world: BotWorld,
) -> None:
    bot = InProcessBot(world.settings())
    await bot.start()
    await wait_joined(world, world.helpdesk)
    alice = await world.user("alice")
    await bot.stop()  # the bot is away: nothing it does can race the DM's first message

    # Element's way: createRoom (is_direct, bot invited), then the first message at once.
    dm = await alice.create_dm(world.bot_user_id)
    first = await alice.send(dm, "!ping first words in a new DM")
    # A group room the bot is invited to later: its history stays unanswered.
    group = await alice.create_room(invite=[world.bot_user_id], name="Some project")
    old = await alice.send(group, "!ping from before the bot was here")

    bot = InProcessBot(world.settings())
    await bot.start()
    try:
        answer = await alice.wait_for(is_reply_from(world.bot_user_id, first), 30)
        assert answer is not None, "the first message of a new DM was not answered"
        assert answer["room_id"] == dm
        await joined_by_bot(world, alice, group)
        new = await alice.send(group, "!ping after the bot joined")
        assert await alice.wait_for(is_reply_from(world.bot_user_id, new), 30)
        assert await alice.wait_for(is_reply_from(world.bot_user_id, old), 1) is None
    finally:
        await bot.stop()


async def bot_invite(user: MatrixUser, bot_user_id: str, known: set[str]) -> str:
    """The next room the bot invites ``user`` to (not one of ``known``)."""
    for _ in range(300):
        for room_id, state in user.invites.items():
            if room_id not in known and any(e.get("sender") == bot_user_id for e in state):
                return room_id
        await user.sync(timeout_ms=100)
    raise AssertionError("no DM invite from the bot")


@pytest.mark.plaintext_dms
async def test_faults_dm_the_reporter_left_gets_a_new_dm(world: BotWorld, running_bot) -> None:
    alice = await world.user("alice")
    await alice.drain()
    await alice.send(world.helpdesk, "!ticket my laptop was stolen")
    first_dm = await bot_invite(alice, world.bot_user_id, set())
    await alice.join(first_dm)
    confirmation = await alice.wait_for(
        lambda e: e["room_id"] == first_dm and e["sender"] == world.bot_user_id
        and e["type"] == "m.room.message", 30,
    )  # fmt: skip
    assert confirmation is not None and "T-" in text_of(confirmation)

    await alice.leave(first_dm)
    await alice.send(world.helpdesk, "!ticket and my phone too")
    second_dm = await bot_invite(alice, world.bot_user_id, {first_dm})
    await alice.join(second_dm)
    second = await alice.wait_for(
        lambda e: e["room_id"] == second_dm and e["sender"] == world.bot_user_id
        and e["type"] == "m.room.message", 30,
    )  # fmt: skip
    assert second is not None and "phone" not in text_of(second)  # never the text itself
    await alice.sync(timeout_ms=500)
    # Exactly one new room for one need: no second invite, nothing more in the old room.
    invites = [r for r, s in alice.invites.items() if r not in (first_dm, second_dm)]
    assert invites == []
    db = Database(world.db_url)
    try:
        async with db.sessions() as session:
            rows = (await session.scalars(select(DirectRoom))).all()
        assert {(r.user_id, r.room_id) for r in rows} == {(alice.user_id, second_dm)}
    finally:
        await db.close()
