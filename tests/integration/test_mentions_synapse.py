"""On a real Synapse: the bot answers a mention at the start, never its name as a word.

The bot is called "Helpdesk" here, so "helpdesk is down again" in the helpdesk room is the
reported case: it used to get "I don't know 'is'"; it must get no reply at all.

And the bot's own replies ping nobody by accident: an empty ``m.mentions`` is left out only
where no member's name is in the body (Synapse validates the key on every send).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.features.ownership.importer import import_map
from bot.storage import Database, migrate
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import MatrixUser
from tests.support.replies import is_reply_from

pytestmark = pytest.mark.integration


async def test_mentions_only_a_leading_mention_addresses_the_bot(world: BotWorld) -> None:
    bot = InProcessBot(world.settings(bot={"display_name": "Helpdesk"}))
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        alice = await world.user("alice")
        await alice.drain()
        pill = f'<a href="https://matrix.to/#/{world.bot_user_id}">Helpdesk</a>'
        chatter = [
            await alice.send(world.helpdesk, "helpdesk is down again"),
            await alice.send(world.helpdesk, "Helpdesk is down again for me too"),
            await alice.send(
                world.helpdesk,
                "ping Helpdesk",
                extra={
                    "format": "org.matrix.custom.html",
                    "formatted_body": f"ping {pill}",
                    "m.mentions": {"user_ids": [world.bot_user_id]},
                },
            ),
        ]
        addressed = [
            await alice.send(world.helpdesk, "Helpdesk: ping"),
            await alice.send(world.helpdesk, f"{world.bot_user_id} ping"),
            await alice.send(
                world.helpdesk,
                "Helpdesk: ping",
                extra={
                    "format": "org.matrix.custom.html",
                    "formatted_body": f"{pill}: ping",
                    "m.mentions": {"user_ids": [world.bot_user_id]},
                },
            ),
        ]
        for question in addressed:
            reply = await alice.wait_for(is_reply_from(world.bot_user_id, question), 30)
            assert reply is not None, "no answer to a leading mention"
            assert reply["content"]["body"] == "pong"
        await asyncio.sleep(1)
        await alice.sync(timeout_ms=500)
        for question in chatter:
            assert await alice.wait_for(is_reply_from(world.bot_user_id, question), 0) is None
    finally:
        await bot.stop()


async def _counts(user: MatrixUser, room_id: str) -> dict:
    """``unread_notifications`` of ``room_id`` in a fresh /sync of ``user``."""
    synced = await user.request("GET", "/_matrix/client/v3/sync", params={"timeout": "0"})
    return synced["rooms"]["join"][room_id].get("unread_notifications", {})


async def test_mentions_bot_replies_highlight_nobody_and_pong_carries_none(
    world: BotWorld,
) -> None:
    owner, asker = await world.user("owner"), await world.user("asker")
    # The owner wants to hear about bot notices: without ``m.mentions`` their localpart
    # in a reply would fire ``.m.rule.contains_user_name`` (a highlight).
    rule = "/_matrix/client/v3/pushrules/global/override/.m.rule.suppress_notices/enabled"
    await owner.request("PUT", rule, {"enabled": False})
    await migrate.upgrade(world.db_url)
    db = Database(world.db_url)
    today = datetime.now(UTC).date().isoformat()
    async with db.sessions.begin() as session:
        await import_map(
            session,
            f"areas:\n  - {{name: Release signing, owners: ['{owner.user_id}'],"
            f" verified: {today}}}\n",
            actor="test",
            now=datetime.now(UTC),
        )
    await db.close()
    bot = InProcessBot(world.settings())
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        await owner.drain()
        question = await asker.send(world.helpdesk, "who owns release signing?")
        answer = await owner.wait_for(is_reply_from(world.bot_user_id, question), 30)
        assert answer is not None, "no answer to the ownership question"
        assert owner.user_id in answer["content"]["body"]
        assert answer["content"]["m.mentions"] == {}  # named, so the marker stays
        counts = await _counts(owner, world.helpdesk)
        assert counts.get("notification_count", 0) >= 1, counts  # notices do notify
        assert counts.get("highlight_count", 0) == 0, counts  # but named is not pinged

        ping = await asker.send(world.helpdesk, "!ping")
        pong = await owner.wait_for(is_reply_from(world.bot_user_id, ping), 30)
        assert pong is not None and pong["content"]["body"] == "pong"
        assert "m.mentions" not in pong["content"]  # nobody could be pinged: left out
        assert (await _counts(owner, world.helpdesk)).get("highlight_count", 0) == 0
        pushed = await owner.request(
            "GET", "/_matrix/client/v3/notifications", params={"only": "highlight"}
        )
        assert pushed["notifications"] == [], pushed
    finally:
        await bot.stop()
