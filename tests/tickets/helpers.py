"""A router with every feature over a real database, fed with plain IncomingMessages."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.app import build_router
from bot.clock import ManualClock
from bot.commands.context import IncomingMessage, RoomKind
from bot.commands.router import Router
from bot.config import Settings
from bot.outbox import Outbox
from bot.scheduler import Scheduler
from bot.services import RoomIds, Services, StaticDirectory
from bot.storage import Database
from bot.storage.models import OutboxMessage

HELPDESK = "!helpdesk:test"
TRIAGE = "!triage:test"
BOT = "@bot:test"
LEAD = "@lead:test"
MEMBER = "@member:test"  # in the triage room, not in config
ALICE = "@alice:test"
MALLORY = "@mallory:test"
_seq = itertools.count(1)


def settings(db_url: str, **tickets: Any) -> Settings:
    return Settings(
        matrix={"homeserver": "http://localhost:1", "user_id": BOT, "password": "x" * 8},
        rooms={"helpdesk": "#helpdesk:test", "triage": "#triage:test"},
        security_team=[LEAD],
        database={"url": db_url},
        tickets=tickets,
    )


class Desk:
    """The bot's router and services, with helpers to talk and to read what it queued."""

    def __init__(self, db: Database, **tickets: Any):
        self.db = db
        self.clock = ManualClock(datetime(2026, 11, 22, 9, 0, tzinfo=UTC))
        self.services = Services(
            settings=settings(db.url, **tickets),
            db=db,
            outbox=Outbox(db),
            scheduler=Scheduler(),
            directory=StaticDirectory({TRIAGE: {BOT, LEAD, MEMBER}}),
            rooms=RoomIds(helpdesk=HELPDESK, triage=TRIAGE),
            clock=self.clock,
        )
        self.router: Router = build_router(self.services)
        self.dms: dict[str, str] = {}

    def dm_of(self, user: str) -> str:
        # Opaque, like real room ids (a room id must not give the user away).
        return self.dms.setdefault(user, f"!dm{len(self.dms) + 1}:test")

    async def say(
        self, user: str, body: str, *, room: str = "dm", in_reply_to: str | None = None
    ) -> str:
        """Send ``body`` as ``user`` in ``room`` ("dm", "helpdesk" or "triage"); event id."""
        kinds = {"helpdesk": (HELPDESK, RoomKind.HELPDESK), "triage": (TRIAGE, RoomKind.TRIAGE)}
        room_id, kind = kinds.get(room, (self.dm_of(user), RoomKind.DIRECT))
        event_id = f"$ev{next(_seq)}"
        await self.router.handle(
            IncomingMessage(
                event_id=event_id,
                room_id=room_id,
                sender=user,
                body=body,
                timestamp=self.clock(),
                room_kind=kind,
                in_reply_to=in_reply_to,
            )
        )
        return event_id

    async def queued(self) -> list[OutboxMessage]:
        async with self.db.sessions() as session:
            return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    async def answer(self, event_id: str) -> str:
        """The body of the bot's reply to ``event_id``."""
        for row in await self.queued():
            rel = row.content.get("m.relates_to") or {}
            if (rel.get("m.in_reply_to") or {}).get("event_id") == event_id:
                return row.content.get("body", "") or ""
        raise AssertionError(f"no reply to {event_id}")

    async def sent_after(self, event_id: str) -> list[OutboxMessage]:
        """Further messages (not the reply) queued while handling ``event_id``."""
        return [
            r
            for r in await self.queued()
            if r.source_event_id == event_id and r.txn_id[-2:] != ".0"
        ]

    async def mark_sent(self) -> None:
        """Pretend the outbox sent everything: give each row an event id and a room."""
        async with self.db.sessions.begin() as session:
            for row in await session.scalars(select(OutboxMessage)):
                if row.sent_event_id is None:
                    row.sent_event_id = f"$sent-{row.id}"
                    row.sent_at = self.clock()
                    if row.room_id is None:
                        row.room_id = self.dm_of(row.dm_user_id)
