"""A router with the ownership feature on a test database, and a way to talk to it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.clock import ManualClock
from bot.commands import builtin
from bot.commands.context import IncomingMessage, RoomKind
from bot.commands.router import Router
from bot.config import Settings
from bot.features import ownership
from bot.outbox import Outbox
from bot.scheduler import Scheduler
from bot.services import RoomIds, Services
from bot.storage import Database
from bot.storage.models import OutboxMessage

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MAP = ROOT / "config" / "responsibilities.yaml"
LEAD = "@lead:example.org"
ALICE = "@alice:example.org"
START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
_seq = itertools.count(1)


def settings(db_url: str, **ownership_settings: Any) -> Settings:
    return Settings(
        matrix={"homeserver": "http://localhost", "user_id": "@bot:example.org", "password": "x"},
        rooms={"helpdesk": "#helpdesk:example.org", "triage": "#triage:example.org"},
        security_team=[LEAD],
        database={"url": db_url},
        ownership=ownership_settings,
    )


@dataclass
class Harness:
    router: Router
    services: Services
    clock: ManualClock

    async def say(
        self,
        body: str,
        *,
        sender: str = ALICE,
        room_kind: RoomKind = RoomKind.HELPDESK,
        formatted_body: str | None = None,
    ) -> dict[str, Any] | None:
        """Send ``body`` through the router; the reply's content (None: no reply)."""
        event_id = f"$ev{next(_seq)}"
        msg = IncomingMessage(
            event_id=event_id,
            room_id="!helpdesk:example.org",
            sender=sender,
            body=body,
            timestamp=self.clock(),
            room_kind=room_kind,
            formatted_body=formatted_body,
        )
        await self.router.handle(msg)
        async with self.services.db.sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.source_event_id == event_id)
                )
            ).all()
        return rows[0].content if rows else None


def make_harness(db: Database, **ownership_settings: Any) -> Harness:
    clock = ManualClock(START)
    services = Services(
        settings=settings(db.url, **ownership_settings),
        db=db,
        outbox=Outbox(db, clock=clock),
        scheduler=Scheduler(),
        rooms=RoomIds(helpdesk="!helpdesk:example.org", triage="!triage:example.org"),
        clock=clock,
    )
    router = Router(services)
    builtin.register(router)
    ownership.feature.setup(services, router)
    return Harness(router, services, clock)
