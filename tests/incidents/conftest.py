"""A router with the incidents feature on a real database, and a fake Matrix boundary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.commands.context import RoomKind
from bot.features import Plugin
from bot.features.incidents import IncidentsPlugin
from bot.features.triage import TriageVerbs
from bot.settings import Settings
from bot.storage import Database
from bot.storage.models import OutboxMessage
from tests.support import desk
from tests.support.desk import ALICE, HELPDESK, LEAD, TRIAGE

__all__ = ["ALICE", "BACKUP", "DM", "HELPDESK", "LEAD", "PRIMARY", "START", "TRIAGE", "Harness"]

DM = "!dm-alice:test"
PRIMARY = "@oncall:test"
BACKUP = "@backup:test"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_settings(**incidents_cfg: Any) -> Settings:
    return desk.make_settings(
        rooms={"helpdesk": HELPDESK, "triage": TRIAGE},
        security_team=[LEAD, PRIMARY, BACKUP],
        incidents={"oncall": [PRIMARY, BACKUP], **incidents_cfg},
    )


class Harness(desk.Desk):
    """Built-in commands and incidents only; `say` answers with the reply's text."""

    triage_members = (LEAD,)
    start = START

    def plugins(self) -> list[Plugin]:
        triage = TriageVerbs()
        return [triage, IncidentsPlugin(self.services, triage)]

    def __init__(self, db: Database):
        super().__init__(db, make_settings())

    async def say(  # type: ignore[override]
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
        msg, _ = await super().say(
            body,
            sender=sender,
            room=room,
            kind=kind,
            in_reply_to=in_reply_to,
            thread_root=thread_root,
        )
        for row in await self.from_event(msg.event_id):
            if row.txn_id.endswith(".0"):
                return str(row.content.get("body", ""))
        return ""

    async def team(self, body: str, *, room: str = TRIAGE, **kw: Any) -> str:
        return await self.say(body, sender=LEAD, room=room, kind=RoomKind.TRIAGE, **kw)

    async def outbox(self) -> list[OutboxMessage]:
        return await self.rows()


@pytest.fixture
async def harness(db: Database) -> AsyncIterator[Harness]:
    yield Harness(db)
