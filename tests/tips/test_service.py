"""The posting job and the commands on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.clock import ManualClock
from bot.commands.context import Reaction, Redaction, RoomKind
from bot.features.tips.models import MISSED, POSTED, SKIPPED, TipMark, TipPost
from bot.outbox import txn_id_for
from bot.storage import Database
from bot.storage.models import OutboxMessage
from tests.support.outbox_rows import rendered_rows
from tests.tips.helpers import (
    ALICE,
    HELPDESK,
    LEAD,
    TRIAGE,
    campaign_doc,
    make_router,
    make_services,
    message,
    utc,
    write_campaigns,
)


@pytest.fixture
def tips_file(tmp_path: Path) -> Path:
    return write_campaigns(tmp_path / "tips.yaml", campaign_doc())


async def rows(db: Database) -> list[TipPost]:
    async with db.sessions() as s:
        return list(await s.scalars(select(TipPost).order_by(TipPost.id)))


async def outbox_rows(db: Database) -> list[OutboxMessage]:
    return await rendered_rows(db)


async def test_tips_job_posts_once_at_local_time(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 2, 7, 59))
    services = make_services(db, tips_file, clock)
    _, tips = make_router(services)
    await tips.tick()
    assert await rows(db) == []
    clock.set(utc(2026, 12, 2, 8, 0, 10))
    await tips.tick()
    await tips.tick()
    (post,) = await rows(db)
    assert (post.campaign, post.local_date, post.room_id, post.day, post.status) == (
        "month",
        date(2026, 12, 2),
        HELPDESK,
        2,
        POSTED,
    )
    (out,) = await outbox_rows(db)
    assert out.txn_id == post.txn_id == txn_id_for(f"tip:month:2026-12-02:{HELPDESK}")
    assert out.room_id == HELPDESK
    assert "Tip 2 of month" in out.content["body"]
    assert out.content["msgtype"] == "m.notice"


async def test_tips_restarted_service_does_not_post_again(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 2, 8, 0, 10))
    _, first = make_router(make_services(db, tips_file, clock))
    await first.tick()
    _, second = make_router(make_services(db, tips_file, clock))  # "restarted" bot
    clock.advance(timedelta(minutes=5))
    await second.tick()
    assert len(await rows(db)) == 1
    assert len(await outbox_rows(db)) == 1


async def test_tips_two_replicas_concurrently_claim_once(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 2, 8, 0, 10))
    replicas = [make_router(make_services(db, tips_file, clock))[1] for _ in range(4)]
    await asyncio.gather(*(r.tick() for r in replicas))
    assert len(await rows(db)) == 1
    assert len(await outbox_rows(db)) == 1


async def test_tips_missed_is_recorded_once_and_never_posted(
    db: Database, tips_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(utc(2026, 12, 2, 11, 30))  # 12:30 local, past the 3 h window
    _, tips = make_router(make_services(db, tips_file, clock))
    await tips.tick()
    await tips.tick()
    (post,) = await rows(db)
    assert post.status == MISSED
    assert await outbox_rows(db) == []
    assert sum("missed" in r.getMessage() for r in caplog.records) == 1


async def test_tips_event_id_copied_from_outbox(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 2, 8, 1))
    _, tips = make_router(make_services(db, tips_file, clock))
    await tips.tick()
    async with db.sessions.begin() as s:
        await s.execute(update(OutboxMessage).values(sent_event_id="$sent1", sent_at=clock()))
    await tips.tick()
    (post,) = await rows(db)
    assert post.event_id == "$sent1"


async def _react(router, sender: str, key: str, target: str, n: int) -> None:
    await router.handle_reaction(
        Reaction(f"$r{n}", HELPDESK, sender, key, target, utc(2026, 12, 2, 9), RoomKind.HELPDESK)
    )


async def test_tips_reactions_counted_per_person_without_names(
    db: Database, tips_file: Path
) -> None:
    clock = ManualClock(utc(2026, 12, 2, 8, 1))
    services = make_services(db, tips_file, clock, min_count=1)
    router, tips = make_router(services)
    await tips.tick()
    async with db.sessions.begin() as s:  # as the outbox does once sent
        await s.execute(update(OutboxMessage).values(sent_event_id="$tip2", sent_at=clock()))
    await _react(router, ALICE, "✅", "$tip2", 1)
    await _react(router, ALICE, "✅", "$tip2", 2)  # same person again
    await _react(router, "@bob:localhost", "✅\ufe0f", "$tip2", 3)
    await _react(router, "@carol:localhost", "👍", "$tip2", 4)  # not "done"
    await _react(router, "@dave:localhost", "✅", "$other", 5)  # not a tip
    async with db.sessions() as s:
        done = list(await s.scalars(select(TipMark)))
    assert len({d.marker for d in done}) == 2
    for d in done:
        assert "alice" not in d.marker + (d.event_ref or "")
        assert "$r" not in (d.event_ref or "")
    await router.handle(message("!tip stats", sender=LEAD, room=TRIAGE))
    out = (await outbox_rows(db))[-1]
    assert "02 Dec day 2 (Tip 2 of month): done 2, stuck 0" in out.content["body"]
    assert "alice" not in out.content["body"] and "bob" not in out.content["body"]
    # Alice takes back one of her two ✅: still counted; then the other: no longer.
    redact = Redaction("$x1", HELPDESK, ALICE, "$r1", utc(2026, 12, 2, 9), RoomKind.HELPDESK)
    await router.handle_redaction(redact)
    await router.handle(message("!tip stats", sender=LEAD, room=TRIAGE))
    assert "done 2," in await last_reply(db)
    await router.handle_redaction(dataclasses.replace(redact, event_id="$x2", redacts="$r2"))
    await router.handle(message("!tip stats", sender=LEAD, room=TRIAGE))
    assert "done 1," in await last_reply(db)


async def last_reply(db: Database) -> str:
    return (await outbox_rows(db))[-1].content["body"]


async def test_tips_command_today_next_and_day(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 3, 10))
    router, _ = make_router(make_services(db, tips_file, clock))
    await router.handle(message("!tip"))
    body = await last_reply(db)
    assert "day 3 of 5" in body and "Tip 3 of month" in body and "No judgement" in body
    await router.handle(message("!tip 2"))
    assert "Tip 2 of month" in await last_reply(db)
    await router.handle(message("!tip 5"))  # in the future: no spoilers for everyone
    assert "no spoilers" in await last_reply(db)
    await router.handle(message("!tip 9"))
    assert "days 1 to 5" in await last_reply(db)
    clock.set(utc(2026, 11, 20, 10))
    await router.handle(message("!tip"))
    body = await last_reply(db)
    assert "next one comes on Tue 01 Dec 2026 at 09:00 Europe/Berlin" in body
    assert "Tip 1 of month" in body


async def test_tips_calendar(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 3, 10))
    router, _ = make_router(make_services(db, tips_file, clock))
    await router.handle(message("!tips"))
    body = await last_reply(db)
    assert "Tue 01 Dec 2026 to Sat 05 Dec 2026" in body
    assert "Thu 03 Dec — day 3: Tip 3 of month ← today" in body
    assert body.count("— day ") == 5


async def test_tips_team_commands_refused_for_others(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 3, 10))
    router, _ = make_router(make_services(db, tips_file, clock))
    for cmd in ("!tip stats", "!tip preview 4", "!tip skip 2026-12-04"):
        await router.handle(message(cmd, sender=ALICE))
        assert "for the security team" in await last_reply(db)
    assert await rows(db) == []


async def test_tips_preview_and_skip(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 3, 10))
    services = make_services(db, tips_file, clock)
    router, tips = make_router(services)
    await router.handle(message("!tip preview 4", sender=LEAD))
    body = await last_reply(db)
    assert "Preview of day 4" in body and "Tip 4 of month" in body
    await router.handle(message("!tip skip 2026-12-04", sender=LEAD))
    assert "no Campaign month tip on Fri 04 Dec 2026" in await last_reply(db)
    await router.handle(message("!tip skip 2026-12-04", sender=LEAD))
    assert "already skipped or posted" in await last_reply(db)
    await router.handle(message("!tip skip 2026-12-01", sender=LEAD))
    assert "in the past" in await last_reply(db)
    await router.handle(message("!tip skip today", sender=LEAD))
    assert "already gone out" in await last_reply(db)
    posts_before = len(await outbox_rows(db))
    clock.set(utc(2026, 12, 4, 8, 0, 5))
    await tips.tick()
    assert len(await outbox_rows(db)) == posts_before  # nothing posted on the skipped day
    (skipped,) = await rows(db)
    assert (skipped.status, skipped.skipped_by) == (SKIPPED, LEAD)


async def test_tips_broken_file_disables_tips_not_bot(db: Database, tmp_path: Path) -> None:
    doc = campaign_doc(tz="Nowhere/Land")
    path = write_campaigns(tmp_path / "tips.yaml", doc)
    clock = ManualClock(utc(2026, 12, 3, 10))
    router, tips = make_router(make_services(db, path, clock))
    assert tips.campaigns == [] and tips.problems
    await router.handle(message("!tip"))
    assert "no tip campaigns configured" in await last_reply(db)


async def test_tips_count_query(db: Database, tips_file: Path) -> None:
    """Two rooms: one claim row each, still one tip per room."""
    path = write_campaigns(tips_file, campaign_doc(rooms=["helpdesk", "triage", "helpdesk"]))
    clock = ManualClock(utc(2026, 12, 2, 8, 1))
    _, tips = make_router(make_services(db, path, clock))
    await tips.tick()
    await tips.tick()
    async with db.sessions() as s:
        count = await s.scalar(select(func.count()).select_from(TipPost))
    assert count == 2
    assert sorted(o.room_id for o in await outbox_rows(db)) == sorted([HELPDESK, TRIAGE])
