"""The bot on a real Synapse: ping, help, m.notice replies in relation to the question."""

from __future__ import annotations

import pytest

from tests.support.botworld import BotWorld, InProcessBot
from tests.support.mxclient import reply_to

pytestmark = pytest.mark.integration


def bot_reply(world: BotWorld, question: str):
    return lambda e: (
        e.get("type") == "m.room.message"
        and e.get("sender") == world.bot_user_id
        and reply_to(e) == question
    )


async def test_bot_ping_gets_notice_reply(world: BotWorld, running_bot: InProcessBot) -> None:
    alice = await world.user("alice")
    question = await alice.send(world.helpdesk, "!ping")
    reply = await alice.wait_for(bot_reply(world, question), 20)
    assert reply is not None, "no reply to !ping"
    assert reply["content"]["msgtype"] == "m.notice"
    assert "pong" in reply["content"]["body"]
    assert reply["content"]["format"] == "org.matrix.custom.html"
