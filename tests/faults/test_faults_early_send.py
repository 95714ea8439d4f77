"""A reply sent while its transaction commits, whose commit then fails, is not doubled.

On SQLite a plain reply goes out beside its commit (bot/outbox/early.py). Here the
transaction is made to fail after the reply reached the real Synapse: the event is
handled again, its reply sent again with the same transaction id from the same device,
and the room must show it once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from bot.app import App
from bot.matrix.sender import NioTransport
from bot.outbox import Outbox
from bot.storage.models import HandledEvent, OutboxMessage
from tests.support.botworld import BotWorld, wait_joined
from tests.support.replies import is_reply_from

pytestmark = [pytest.mark.integration]


async def test_faults_early_reply_whose_commit_failed_is_answered_once(
    world: BotWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_early, send_event = Outbox.start_early, NioTransport.send_event
    failed: list[str] = []
    sent: list[str] = []
    reached = asyncio.Event()

    async def counted_send(self: NioTransport, room_id: str, *args: Any) -> str:
        event_id = await send_event(self, room_id, *args)
        sent.append(event_id)
        reached.set()
        return event_id

    async def start_then_fail(self: Outbox, session: Any) -> Any:
        early = await start_early(self, session)
        if early is not None and not failed:
            failed.append("once")
            await asyncio.wait_for(reached.wait(), 30)  # the reply is in the room
            raise sa_exc.OperationalError(
                "COMMIT", {}, sqlite3.OperationalError("database is locked")
            )
        return early

    monkeypatch.setattr(NioTransport, "send_event", counted_send)
    monkeypatch.setattr(Outbox, "start_early", start_then_fail)
    app = App(world.settings())
    await app.start()
    try:
        await wait_joined(world, world.helpdesk)
        alice = await world.user("alice")
        await alice.drain()
        question = await alice.send(world.helpdesk, "!ping once")
        reply = await alice.wait_for(is_reply_from(world.bot_user_id, question), 30)
        assert reply is not None
        assert failed == ["once"], "the early path was not taken"
        handled, marked = None, 0
        for _ in range(100):  # handled again after the failed commit, and sent again
            async with app.services.db.sessions() as session:
                handled = await session.get(HandledEvent, question)
                marked = await session.scalar(
                    select(func.count(OutboxMessage.id)).where(
                        OutboxMessage.source_event_id == question,
                        OutboxMessage.sent_at.is_not(None),
                    )
                )
            if handled is not None and marked:
                break
            await asyncio.sleep(0.1)
        async with app.services.db.sessions() as session:
            rows = (await session.execute(select(OutboxMessage.__table__))).all()
        assert handled is not None and marked == 1, (rows, sent)
        assert len(sent) == 2 and sent[0] == sent[1]  # the homeserver's de-duplication
        await asyncio.sleep(1)
        await alice.sync(timeout_ms=500)
        replies = [e for e in alice.events if is_reply_from(world.bot_user_id, question)(e)]
        assert len(replies) == 1, f"answered {len(replies)} times"
    finally:
        await app.stop()
