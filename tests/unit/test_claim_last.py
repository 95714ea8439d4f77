"""A handler waiting on something slow holds no write lock: other rooms are answered.

On SQLite the first write of a transaction takes the one write lock of the whole database;
the claim of an event is therefore written at the end of its handler's transaction. With
the claim first, the second room's message below waits for the first handler (and, past
the busy timeout, fails with "database is locked").
"""

from __future__ import annotations

import asyncio

from bot.commands.context import CommandContext, Reply
from bot.commands.registry import Command
from bot.storage import Database
from tests.support.desk import ALICE, MEMBER, Desk


async def test_a_hanging_handler_does_not_hold_up_another_room(db: Database) -> None:
    desk = Desk(db)
    entered, release = asyncio.Event(), asyncio.Event()

    async def hang(ctx: CommandContext) -> Reply:
        entered.set()
        await release.wait()  # a slow call to somewhere, nothing written yet
        return Reply("done")

    desk.router.add(Command("hang", hang, "hangs (test only)"))
    try:
        hung = asyncio.create_task(desk.say("!hang", sender=ALICE, room="dm"))
        await asyncio.wait_for(entered.wait(), 10)
        ping, handled = await asyncio.wait_for(desk.say("!ping", sender=MEMBER, room="helpdesk"), 5)
        assert handled
        assert await desk.reply_to(ping.event_id) is not None
        assert not hung.done()

        release.set()
        msg, handled = await asyncio.wait_for(hung, 10)
        assert handled and await desk.handled(msg.event_id)
        # Still exactly once: the same event again is a duplicate, nothing more is queued.
        before = len(await desk.rows())
        assert not await desk.router.handle(msg)
        assert len(await desk.rows()) == before
    finally:
        release.set()
        await desk.close()
