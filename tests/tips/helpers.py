"""Shared helpers for the tips tests: a small campaigns file and services on a test DB."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bot.clock import ManualClock
from bot.commands.context import IncomingMessage, RoomKind
from bot.commands.router import Router
from bot.config import Settings
from bot.features.tips import handlers
from bot.features.tips.service import TipsService
from bot.outbox import Outbox
from bot.scheduler import Scheduler
from bot.services import RoomIds, Services, StaticDirectory
from bot.storage import Database

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
    return Settings(
        matrix={
            "homeserver": "http://localhost:8008",
            "user_id": "@bot:localhost",
            "password": "x",
        },
        rooms={"helpdesk": "#helpdesk:localhost", "triage": "#triage:localhost"},
        security_team=[LEAD],
        database={"url": "sqlite+aiosqlite:///unused.db"},
        tips={"file": str(tips_file), **tips},
    )


def make_services(db: Database, tips_file: Path, clock: ManualClock, **tips: Any) -> Services:
    settings = make_settings(tips_file, **tips)
    return Services(
        settings=settings,
        db=db,
        outbox=Outbox(db, clock=clock),
        scheduler=Scheduler(),
        directory=StaticDirectory({TRIAGE: {LEAD}}),
        rooms=RoomIds(helpdesk=HELPDESK, triage=TRIAGE),
        clock=clock,
    )


def make_router(services: Services) -> tuple[Router, TipsService]:
    router = Router(services)
    tips = TipsService.from_settings(services)
    handlers.register(router, tips)
    router.on_reaction(tips.on_reaction)
    return router, tips


_seq = iter(range(1, 1_000_000))


def message(body: str, sender: str = ALICE, room: str = HELPDESK) -> IncomingMessage:
    n = next(_seq)
    return IncomingMessage(
        event_id=f"$m{n}",
        room_id=room,
        sender=sender,
        body=body,
        timestamp=utc(2026, 12, 1),
        room_kind=RoomKind.HELPDESK if room == HELPDESK else RoomKind.TRIAGE,
    )
