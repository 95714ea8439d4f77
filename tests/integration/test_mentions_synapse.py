"""On a real Synapse: the bot answers a mention at the start, never its name as a word.

The bot is called "Helpdesk" here, so "helpdesk is down again" in the helpdesk room is the
reported case: it used to get "I don't know 'is'"; it must get no reply at all.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.botworld import BotWorld, InProcessBot, wait_joined
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
