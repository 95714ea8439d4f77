"""A router with the ownership feature on a test database, and a way to talk to it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.commands.context import RoomKind
from bot.features import Plugin
from bot.features.ownership import OwnershipPlugin
from bot.storage import Database
from tests.support import desk

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MAP = ROOT / "config" / "responsibilities.yaml"
LEAD = "@lead:example.org"
ALICE = "@alice:example.org"
START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Harness(desk.Desk):
    """Built-in commands and ownership only, on example.org; `say` answers the reply."""

    bot_user = "@bot:example.org"
    server = "example.org"
    helpdesk = "!helpdesk:example.org"
    triage = "!triage:example.org"
    security_team = (LEAD,)
    triage_members = ()
    start = START

    def plugins(self) -> list[Plugin]:
        return [OwnershipPlugin(self.services)]

    async def say(  # type: ignore[override]
        self,
        body: str,
        *,
        sender: str = ALICE,
        room_kind: RoomKind = RoomKind.HELPDESK,
        formatted_body: str | None = None,
    ) -> dict[str, Any] | None:
        """Send ``body`` through the router; the reply's content (None: no reply)."""
        msg, _ = await super().say(
            body, sender=sender, room="helpdesk", kind=room_kind, formatted_body=formatted_body
        )
        rows = await self.from_event(msg.event_id)
        return rows[0].content if rows else None


def make_harness(db: Database, **ownership_settings: Any) -> Harness:
    return Harness(db, ownership=ownership_settings)
