"""Team tools: the live campaigns file, !tip reload/unskip, preview and validate warnings."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import ManualClock
from bot.features.tips.campaigns import Campaign
from bot.features.tips.live import CampaignSource
from bot.features.tips.loader import load_campaigns
from bot.features.tips.tracking import expired_until, shown
from bot.storage import Database
from bot.storage.models import OutboxMessage
from tests.support.outbox_rows import rendered_rows
from tests.tips.helpers import (
    LEAD,
    TRIAGE,
    campaign_doc,
    make_router,
    make_services,
    message,
    utc,
    write_campaigns,
)

ROOT = Path(__file__).resolve().parents[2]


async def outbox(db: Database) -> list[OutboxMessage]:
    return await rendered_rows(db)


def test_tips_source_keeps_last_good_version(tmp_path: Path) -> None:
    doc = campaign_doc()
    path = write_campaigns(tmp_path / "tips.yaml", doc)
    source = CampaignSource(path)
    first = source.check()
    assert first is not None and first.ok and source.campaigns[0].tips[0].title == "Tip 1 of month"
    assert source.check() is None  # unchanged
    os.utime(path)  # touched, same bytes: nothing new
    assert source.check() is None
    doc["tips"][0]["title"] = "Edited"
    write_campaigns(path, doc)
    assert source.check().ok and source.campaigns[0].tips[0].title == "Edited"  # type: ignore[union-attr]
    path.write_text("campaigns: [\n")
    broken = source.check()
    assert broken is not None and not broken.ok and "line" in broken.problems[0]
    assert source.campaigns[0].tips[0].title == "Edited"  # last good kept
    assert source.check() is None
    path.unlink()
    missing = source.check()
    assert missing is not None and "does not exist" in missing.problems[0]
    assert source.campaigns[0].tips[0].title == "Edited"


async def test_tips_broken_edit_reported_once_per_version_and_reload(
    db: Database, tmp_path: Path
) -> None:
    doc = campaign_doc()
    path = write_campaigns(tmp_path / "tips.yaml", doc)
    clock = ManualClock(utc(2026, 12, 3, 10))
    router, tips = make_router(make_services(db, path, clock))
    await tips.tick()
    write_campaigns(path, dict(doc, time="25:00"))
    await tips.tick()
    await tips.tick()
    notices = [o for o in await outbox(db) if o.room_id == TRIAGE]
    assert len(notices) == 1
    assert "'25:00'" not in notices[0].content["body"]  # the problem, not the raw value
    assert 'time must be a local time like "09:00" (line 6)' in notices[0].content["body"]
    await router.handle(message("!tip reload", sender=LEAD, room=TRIAGE))
    rows = await outbox(db)
    assert "1 problem(s). I keep using the last good version" in rows[-1].content["body"]
    assert len([o for o in rows if o.txn_id == notices[0].txn_id]) == 1  # not told twice
    write_campaigns(path, dict(doc, time="26:00"))  # another broken version: told again
    await tips.tick()
    assert (
        len([o for o in await outbox(db) if o.room_id == TRIAGE and "⚠️" in o.content["body"]]) == 2
    )
    write_campaigns(path, dict(doc, title="Fixed month"))
    await router.handle(message("!tip reload", sender=LEAD, room=TRIAGE))
    assert "Reloaded" in (await outbox(db))[-1].content["body"]
    assert tips.campaigns[0].title == "Fixed month"


async def test_tips_broken_at_start_then_fixed_without_restart(
    db: Database, tmp_path: Path
) -> None:
    doc = campaign_doc()
    path = write_campaigns(tmp_path / "tips.yaml", dict(doc, timezone="Nowhere/Land"))
    clock = ManualClock(utc(2026, 12, 2, 8, 1))
    _, tips = make_router(make_services(db, path, clock))
    assert tips.campaigns == []
    await tips.tick()
    (notice,) = await outbox(db)
    assert "No tips are posted until it is fixed" in notice.content["body"]
    write_campaigns(path, doc)
    await tips.tick()
    assert any(o.content["body"].startswith("🔐") for o in await outbox(db))


async def test_tips_unskip(db: Database, tmp_path: Path) -> None:
    path = write_campaigns(tmp_path / "tips.yaml", campaign_doc())
    clock = ManualClock(utc(2026, 12, 3, 10))
    router, tips = make_router(make_services(db, path, clock))
    await router.handle(message("!tip unskip 2026-12-04", sender=LEAD, room=TRIAGE))
    assert "is not skipped" in (await outbox(db))[-1].content["body"]
    await router.handle(message("!tip skip 2026-12-04", sender=LEAD, room=TRIAGE))
    await router.handle(message("!tip unskip 2026-12-04", sender=LEAD, room=TRIAGE))
    assert "will be posted" in (await outbox(db))[-1].content["body"]
    await router.handle(message("!tip unskip 2026-12-01", sender=LEAD, room=TRIAGE))
    assert "in the past" in (await outbox(db))[-1].content["body"]
    await router.handle(message("!tip unskip 2026-12-04"))
    assert "for the security team" in (await outbox(db))[-1].content["body"]
    clock.set(utc(2026, 12, 4, 8, 0, 5))
    await tips.tick()
    assert "Tip 4 of month" in (await outbox(db))[-1].content["body"]


def test_tips_floor_and_expiry_dates() -> None:
    assert shown(4, 5) == "fewer than 5" and shown(0, 5) == "fewer than 5"
    assert shown(5, 5) == "5" and shown(0, 1) == "0"
    (month,) = [c for c in load_campaigns(ROOT / "config" / "tips.yaml") if c.yearly]
    assert isinstance(month, Campaign)
    # 31 Dec + 31 days: the 2026 run is still kept (only the 2025 one is due).
    assert expired_until(month, date(2027, 1, 31), 31) == date(2025, 12, 31)
    assert expired_until(month, date(2027, 2, 1), 31) == date(2026, 12, 31)
    assert expired_until(month, date(2027, 12, 15), 31) == date(2026, 12, 31)


def test_tips_validate_warns_about_action_line_and_http(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = campaign_doc()
    for tip in doc["tips"]:
        tip["body"] += "\n\n**Today's action:** do it."
    doc["tips"][1]["body"] = "No action here, see [this](http://insecure.example)."
    doc["tips"][2]["link"] = "http://plain.example/guide"
    path = write_campaigns(tmp_path / "tips.yaml", doc)
    assert main(["tips", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK, 1 campaign(s)" in out and "3 warning(s)" in out
    assert "month day 2 (Tip 2 of month): no action line" in out
    assert "month day 2 (Tip 2 of month): link http://insecure.example does not use https" in out
    assert "month day 3 (Tip 3 of month): link http://plain.example/guide does not use" in out
    assert main(["tips", "validate", str(ROOT / "config" / "tips.yaml")]) == 0
    assert "warning" not in capsys.readouterr().out  # the shipped tips pass


def test_tips_preview_prints_the_post(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_campaigns(tmp_path / "tips.yaml", campaign_doc())
    argv = ["tips", "preview", "--campaign", "month", "--day", "3", "--file", str(path)]
    assert main([*argv, "--html"]) == 0
    out = capsys.readouterr().out
    assert "🔐 Campaign month — day 3 of 5" in out and "Do **thing 3** today." in out
    assert "!stuck" in out and "<strong>thing 3</strong>" in out
    assert main(["tips", "preview", "--campaign", "nope", "--day", "1", "--file", str(path)]) == 1
    assert main(["tips", "preview", "--campaign", "month", "--day", "9", "--file", str(path)]) == 1
    assert "days 1 to 5" in capsys.readouterr().err


def test_tips_redaction_events_read_in_both_room_versions() -> None:
    from bot.commands.context import RoomKind
    from bot.matrix.events import to_redaction

    base = {"type": "m.room.redaction", "event_id": "$x", "sender": "@a:x", "origin_server_ts": 0}
    old = to_redaction({**base, "redacts": "$r1", "content": {}}, "!r", RoomKind.HELPDESK, "@b:x")
    new = to_redaction({**base, "content": {"redacts": "$r2"}}, "!r", RoomKind.HELPDESK, "@b:x")
    assert old is not None and old.redacts == "$r1"
    assert new is not None and new.redacts == "$r2"
    assert to_redaction({**base, "content": {}}, "!r", RoomKind.HELPDESK, "@b:x") is None
    own = {**base, "sender": "@b:x", "redacts": "$r"}
    assert to_redaction(own, "!r", RoomKind.HELPDESK, "@b:x") is None


class FakeDirectory:
    """Answers alias lookups from a dict; ``None`` as a value means "homeserver away"."""

    def __init__(self, answers: dict[str, str | None]):
        self.answers = answers

    def joined_members(self, room_id: str) -> set[str]:
        return set()

    async def resolve_alias(self, alias: str) -> str | None:
        if alias in self.answers and self.answers[alias] is None:
            raise ConnectionError("homeserver away")
        return self.answers.get(alias, "") or None


async def test_tips_alias_rooms_stored_and_re_resolved(db: Database, tmp_path: Path) -> None:
    alias = "#extra:localhost"
    path = write_campaigns(tmp_path / "tips.yaml", campaign_doc(rooms=["helpdesk", alias]))
    clock = ManualClock(utc(2026, 12, 3, 10))
    services = make_services(db, path, clock)
    services.directory = FakeDirectory({alias: "!extra1:localhost"})
    _, tips = make_router(services)
    await tips.tick()
    assert tips.resolve_room(alias) == "!extra1:localhost"
    # Another process while the homeserver is away: the stored answer is used.
    services2 = make_services(db, path, clock)
    services2.directory = FakeDirectory({alias: None})
    _, tips2 = make_router(services2)
    await tips2.tick()
    assert tips2.resolve_room(alias) == "!extra1:localhost"
    # The alias moved; an edit of the file re-resolves at once.
    services.directory = FakeDirectory({alias: "!extra2:localhost"})
    write_campaigns(path, campaign_doc(rooms=[alias, "helpdesk"]))
    await tips.tick()
    assert tips.resolve_room(alias) == "!extra2:localhost"
    services.directory = FakeDirectory({})  # the alias was deleted
    await tips.reload()
    assert tips.resolve_room(alias) is None
