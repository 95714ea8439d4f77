"""Shared helpers for the tips tests: a small campaigns file and services on a test DB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.clock import ManualClock
from bot.commands.context import IncomingMessage, RoomKind
from bot.commands.router import Router
from bot.features.tips import handlers, stuck
from bot.features.tips.service import TipsService
from bot.services import Services
from bot.settings import Settings
from bot.storage import Database
from tests.support import desk

HELPDESK = "!helpdesk:localhost"
TRIAGE = "!triage:localhost"
LEAD = "@lead:localhost"
ALICE = "@alice:localhost"


def campaign_doc(
    name: str = "month",
    *,
    start: str = "12-01",
    end: str = "12-05",
    at: str = "09:00",
    tz: str = "Europe/Berlin",
    rooms: list[str] | None = None,
) -> dict[str, Any]:
    """A valid campaign mapping with one tip per day."""
    first = datetime.strptime(f"2001-{start}" if len(start) == 5 else start, "%Y-%m-%d")
    last = datetime.strptime(f"2001-{end}" if len(end) == 5 else end, "%Y-%m-%d")
    days = (last - first).days + 1
    return {
        "name": name,
        "title": f"Campaign {name}",
        "start": start,
        "end": end,
        "time": at,
        "timezone": tz,
        "rooms": rooms or ["helpdesk"],
        "tips": [
            {"day": d, "title": f"Tip {d} of {name}", "body": f"Do **thing {d}** today."}
            for d in range(1, days + 1)
        ],
    }


def write_campaigns(path: Path, *campaigns: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"campaigns": list(campaigns)}, sort_keys=False))
    return path


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def make_settings(tips_file: Path, **tips: Any) -> Settings:
    return desk.make_settings(
        "sqlite+aiosqlite:///unused.db",
        bot_user="@bot:localhost",
        server="localhost",
        security_team=[LEAD],
        tips={"file": str(tips_file), **tips},
    )


def make_services(db: Database, tips_file: Path, clock: ManualClock, **tips: Any) -> Services:
    return desk.make_services(
        db,
        make_settings(tips_file, **tips),
        clock=clock,
        helpdesk=HELPDESK,
        triage=TRIAGE,
        triage_members=[LEAD],
    )


def make_router(services: Services) -> tuple[Router, TipsService]:
    router = Router(services)
    tips = TipsService.from_settings(services)
    handlers.register(router, tips)
    stuck.register(router, tips)
    router.on_reaction(tips.on_reaction)
    router.on_redaction(tips.on_redaction)
    return router, tips


def message(body: str, sender: str = ALICE, room: str = HELPDESK) -> IncomingMessage:
    return desk.incoming(
        body,
        sender=sender,
        room_id=room,
        kind=RoomKind.HELPDESK if room == HELPDESK else RoomKind.TRIAGE,
        timestamp=utc(2026, 12, 1),
    )
