"""A router with every feature over a real database, fed with plain IncomingMessages."""

from __future__ import annotations

from typing import Any

from bot.outbox import txn_id_for
from bot.storage import Database
from bot.storage.models import OutboxMessage
from tests.support import desk
from tests.support.desk import ALICE, BOT, HELPDESK, LEAD, MEMBER, TRIAGE

__all__ = ["ALICE", "BOT", "HELPDESK", "LEAD", "MALLORY", "MEMBER", "TRIAGE", "Desk"]

MALLORY = "@mallory:test"


class Desk(desk.Desk):
    """`tests.support.desk.Desk` with ``tickets`` settings and the tickets tests' wording."""

    def __init__(self, db: Database, **tickets: Any):
        super().__init__(db, tickets=tickets)

    async def say(  # type: ignore[override]
        self, user: str, body: str, *, room: str = "dm", in_reply_to: str | None = None
    ) -> str:
        """Send ``body`` as ``user`` in ``room`` ("dm", "helpdesk" or "triage"); event id."""
        msg, _ = await super().say(body, sender=user, room=room, in_reply_to=in_reply_to)
        return msg.event_id

    async def queued(self) -> list[OutboxMessage]:
        return await self.rows()

    async def answer(self, event_id: str) -> str:
        """The body of the bot's reply to ``event_id``."""
        row = await self.reply_to(event_id)
        if row is None:
            raise AssertionError(f"no reply to {event_id}")
        return row.content.get("body", "") or ""

    async def sent_after(self, event_id: str) -> list[OutboxMessage]:
        """Further messages (not the reply) queued while handling ``event_id``."""
        reply = txn_id_for(event_id)  # the reply's key is the event's id
        return [r for r in await self.from_event(event_id) if r.txn_id != reply]
