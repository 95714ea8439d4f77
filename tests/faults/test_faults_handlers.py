"""A stuck handler stalls only its own room, and its person gets an error reference."""

from __future__ import annotations

import asyncio

import pytest

from bot.app import App
from bot.commands.context import CommandContext, Reply
from bot.commands.router import Command
from tests.support.botworld import BotWorld, wait_joined
from tests.support.mxclient import text_of
from tests.support.replies import is_reply_from

pytestmark = [pytest.mark.integration]


async def test_faults_handlers_a_stuck_handler_does_not_stop_another_room(
    world: BotWorld,
) -> None:
    app = App(world.settings(bot={"handler_timeout": 5, "max_event_attempts": 2}))
    calls: list[str] = []
    entered = asyncio.Event()

    async def stuck(ctx: CommandContext) -> Reply:
        calls.append(ctx.message.event_id)
        entered.set()
        await asyncio.sleep(3600)  # a hung call to somewhere
        return Reply("never")

    app.router.add(Command("hang", stuck, "hangs (test only)"))
    await app.start()
    try:
        await wait_joined(world, world.helpdesk)
        alice, bob = await world.user("alice"), await world.user("bob")
        dm = await alice.create_dm(world.bot_user_id)
        for _ in range(300):
            if world.bot_user_id in await alice.joined_members(dm):
                break
            await asyncio.sleep(0.1)
        await alice.drain()
        await bob.drain()
        hang = await alice.send(dm, "!hang")
        await asyncio.wait_for(entered.wait(), 30)
        ping = await bob.send(world.helpdesk, "!ping meanwhile")
        pong = await bob.wait_for(is_reply_from(world.bot_user_id, ping), 30)
        assert pong is not None, "a stuck handler in a DM stopped the helpdesk room"
        # bob was answered while alice's event was still unfinished: its handler may have
        # timed out once under load (5 s), but it has not been given up on yet.
        await alice.sync(timeout_ms=0)
        assert not [e for e in alice.events if is_reply_from(world.bot_user_id, hang)(e)]

        reference = await alice.wait_for(is_reply_from(world.bot_user_id, hang), 30)
        assert reference is not None, "silence after the handler timed out"
        assert "ref:" in text_of(reference)
        assert len(calls) == 2  # tried bot.max_event_attempts times, then given up
        await asyncio.sleep(1)
        await alice.sync(timeout_ms=200)
        assert len([e for e in alice.events if is_reply_from(world.bot_user_id, hang)(e)]) == 1
    finally:
        await app.stop()
