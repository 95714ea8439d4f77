"""A router with the incidents feature on a real database, and a fake Matrix boundary."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import builtin
from bot.commands.context import IncomingMessage, Reaction, RoomKind
from bot.commands.router import Router
from bot.config import Settings
from bot.features import incidents
from bot.outbox import Outbox
from bot.scheduler import Scheduler
from bot.services import RoomIds, Services, StaticDirectory
from bot.storage import Database
from bot.storage.models import OutboxMessage

TRIAGE = "!triage:test"
HELPDESK = "!helpdesk:test"
DM = "!dm-alice:test"
LEAD = "@lead:test"
PRIMARY = "@oncall:test"
BACKUP = "@backup:test"
ALICE = "@alice:test"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_seq = itertools.count(1)


@dataclass
class Harness:
    services: Services
    router: Router
    clock: ManualClock
    sent: list[Any] = field(default_factory=list)

    async def say(
        self,
        body: str,
        *,
        sender: str = ALICE,
        room: str = DM,
        kind: RoomKind = RoomKind.DIRECT,
        in_reply_to: str | None = None,
        thread_root: str | None = None,
    ) -> str:
        """Handle one message; return the plain text of the bot's reply to it ('' if none)."""
        event_id = f"$ev{next(_seq)}"
        await self.router.handle(
            IncomingMessage(
                event_id=event_id,
                room_id=room,
                sender=sender,
                body=body,
                timestamp=self.clock(),
                room_kind=kind,
                in_reply_to=in_reply_to,
                thread_root=thread_root,
            )
        )
        for row in await self.outbox():
            if row.source_event_id == event_id and row.txn_id.endswith(".0"):
                return str(row.content.get("body", ""))
        return ""

    async def team(self, body: str, *, room: str = TRIAGE, **kw: Any) -> str:
        return await self.say(body, sender=LEAD, room=room, kind=RoomKind.TRIAGE, **kw)

    async def react(self, target: str, key: str = "📌", sender: str = LEAD) -> None:
        await self.router.handle_reaction(
            Reaction(f"$r{next(_seq)}", TRIAGE, sender, key, target, self.clock(), RoomKind.TRIAGE)
        )

    async def outbox(self) -> list[OutboxMessage]:
        async with self.services.db.sessions() as session:
            return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    async def to_room(self, room: str) -> list[str]:
        return [r.content["body"] for r in await self.outbox() if r.room_id == room]

    async def to_dm(self, user: str) -> list[str]:
        return [r.content["body"] for r in await self.outbox() if r.dm_user_id == user]

    async def mark_sent(self) -> None:
        """Pretend the outbox sent everything: event id = '$sent-<row id>'."""
        async with self.services.db.sessions.begin() as session:
            for row in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
            ):
                row.sent_at = self.clock()
                row.sent_event_id = f"$sent-{row.id}"


def make_settings(**incidents_cfg: Any) -> Settings:
    return Settings(
        matrix={"homeserver": "http://localhost", "user_id": "@bot:test", "password": "x"},
        rooms={"helpdesk": HELPDESK, "triage": TRIAGE},
        security_team=[LEAD, PRIMARY, BACKUP],
        incidents={"oncall": [PRIMARY, BACKUP], **incidents_cfg},
    )


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[Harness]:
    clock = ManualClock(START)
    services = Services(
        settings=make_settings(),
        db=db,
        outbox=Outbox(db, clock=clock),
        scheduler=Scheduler(),
        directory=StaticDirectory({TRIAGE: {LEAD}}),
        rooms=RoomIds(helpdesk=HELPDESK, triage=TRIAGE),
        clock=clock,
    )
    router = Router(services)
    builtin.register(router)
    incidents.feature.setup(services, router)
    yield Harness(services, router, clock)
