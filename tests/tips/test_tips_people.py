"""Tips and people: stuck tickets, own progress, privacy (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text, update

from bot.clock import ManualClock
from bot.commands.context import Reaction, RoomKind
from bot.features.tickets.models import Ticket
from bot.features.tips.models import TipMark
from bot.storage import Database
from bot.storage.models import OutboxMessage
from tests.support import desk
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

DM = "!dm-alice:localhost"
BOB = "@bob:localhost"


def dm(body: str, sender: str = ALICE, room: str = DM):
    return desk.incoming(body, sender=sender, room_id=room, kind=RoomKind.DIRECT,
                         timestamp=utc(2026, 12, 3, 9))  # fmt: skip


@pytest.fixture
def tips_file(tmp_path: Path) -> Path:
    return write_campaigns(tmp_path / "tips.yaml", campaign_doc())


async def last_body(db: Database, room: str | None = None) -> str:
    """The last queued message (to ``room``, when given)."""
    rows = await rendered_rows(db)
    return [r for r in rows if room is None or r.room_id == room][-1].content["body"]


async def tickets(db: Database) -> list[Ticket]:
    async with db.sessions() as s:
        return list(await s.scalars(select(Ticket).order_by(Ticket.id)))


async def posted_days(db: Database, router, tips, clock: ManualClock, days: list[int]) -> None:
    """Post the given days of December (event ids $tip<day>)."""
    for day in days:
        clock.set(utc(2026, 12, day, 8, 1))
        await tips.tick()
        async with db.sessions.begin() as s:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.sent_event_id.is_(None))
                .values(sent_event_id=f"$tip{day}", sent_at=clock())
            )
        await tips.tick()


async def react(router, sender: str, target: str, n: int) -> None:
    await router.handle_reaction(
        Reaction(f"$r{n}", HELPDESK, sender, "✅", target, utc(2026, 12, 3, 9), RoomKind.HELPDESK)
    )


async def test_tips_stuck_in_dm_and_anonymous_open_tagged_tickets(
    db: Database, tips_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the production level, every logger
    clock = ManualClock(utc(2026, 12, 3, 7))  # before today's tip: yesterday's is current
    router, _ = make_router(make_services(db, tips_file, clock, min_count=1))
    await router.handle(dm("!stuck the export button is missing"))
    reply = await last_body(db, DM)
    assert "Stuck on day 2 of Campaign month" in reply and "#day-2" in reply
    (ticket,) = await tickets(db)
    assert set(ticket.tags.split(",")) == {"tip", "month", "day-2"}
    assert ticket.reporter_id == ALICE and "the export button is missing" in ticket.text
    await router.handle(dm("!stuck anonymous 1", sender=BOB, room="!dm-bob:localhost"))
    anon = (await tickets(db))[-1]
    assert anon.anonymous and anon.reporter_id is None and "day-1" in anon.tags
    await router.handle(dm("!stuck 4"))
    assert "not out yet" in await last_body(db, DM)
    await router.handle(message("!tip stats", sender=LEAD, room=TRIAGE))
    assert await last_body(db)  # no posts yet: nothing to report, but no error
    async with db.sessions() as s:
        marks = list(await s.scalars(select(TipMark)))
    assert sorted((m.kind, m.local_date.day) for m in marks) == [("stuck", 1), ("stuck", 2)]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "tips: stuck ticket filed for month day 2" in logged
    assert "bob" not in logged and "export button" not in logged


async def test_tips_reply_to_a_tip_opens_a_ticket_and_other_replies_do_not(
    db: Database, tips_file: Path
) -> None:
    clock = ManualClock(utc(2026, 12, 2, 8, 1))
    router, tips = make_router(make_services(db, tips_file, clock, min_count=1))
    await posted_days(db, router, tips, clock, [2])
    plain = desk.incoming("hello", sender=BOB, room_id=HELPDESK, kind=RoomKind.HELPDESK,
                          timestamp=utc(2026, 12, 2, 9), in_reply_to="$not-a-tip")  # fmt: skip
    await router.handle(plain)
    assert await tickets(db) == []
    stuck = desk.incoming("> <@bot> quoted\n\nI can't find the setting", sender=BOB,
                          room_id=HELPDESK, kind=RoomKind.HELPDESK,
                          timestamp=utc(2026, 12, 2, 9), in_reply_to="$tip2")  # fmt: skip
    await router.handle(stuck)
    (ticket,) = await tickets(db)
    assert "day-2" in ticket.tags and ticket.text.endswith("I can't find the setting")
    again = desk.incoming("found it, thanks", sender=BOB, room_id=HELPDESK,
                          kind=RoomKind.HELPDESK, timestamp=utc(2026, 12, 2, 9),
                          thread_root="$tip2")  # fmt: skip
    await router.handle(again)
    assert len(await tickets(db)) == 1  # one ticket per person and tip from the thread
    other = desk.incoming("anonymous: same here", sender=ALICE, room_id=HELPDESK,
                          kind=RoomKind.HELPDESK, timestamp=utc(2026, 12, 2, 9),
                          thread_root="$tip2")  # fmt: skip
    await router.handle(other)
    assert (await tickets(db))[-1].anonymous
    await router.handle(message("!tip stats", sender=LEAD, room=TRIAGE))
    assert "done 0, stuck 2" in await last_body(db, TRIAGE)


async def test_tips_progress_only_own_days_only_in_dm(db: Database, tips_file: Path) -> None:
    clock = ManualClock(utc(2026, 12, 1, 8, 1))
    router, tips = make_router(make_services(db, tips_file, clock))
    await posted_days(db, router, tips, clock, [1, 2, 3])
    await react(router, ALICE, "$tip1", 1)
    await react(router, ALICE, "$tip3", 2)
    await react(router, BOB, "$tip2", 3)
    await router.handle(message("!tip progress"))
    assert "DM" in await last_body(db, HELPDESK)
    await router.handle(dm("!tip progress"))
    body = await last_body(db, DM)
    assert "you marked 2 of 3 day(s) done" in body
    assert "01 Dec day 1: done" in body and "02 Dec day 2: not marked" in body
    assert "03 Dec day 3: done" in body


async def test_tips_privacy_summary_forget_and_no_user_id_stored(
    db: Database, tips_file: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the production level, every logger
    clock = ManualClock(utc(2026, 12, 1, 8, 1))
    router, tips = make_router(make_services(db, tips_file, clock))
    await posted_days(db, router, tips, clock, [1, 2])
    await react(router, ALICE, "$tip1", 1)
    await react(router, ALICE, "$tip2", 2)
    await react(router, BOB, "$tip2", 3)
    # Every table: no user id anywhere, no reaction event id in the marks.
    async with db.sessions() as s:
        conn = await s.connection()
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert "tip_marks" in tables
        for table in tables:
            dumped = repr(list(await s.execute(text(f'SELECT * FROM "{table}"'))))
            assert "alice" not in dumped and "bob" not in dumped, table
        marks = list(await s.scalars(select(TipMark)))
    assert not any(m.event_ref and m.event_ref.startswith("$") for m in marks)
    if db_url.startswith("sqlite"):
        base = Path(db_url.split("///", 1)[1])
        raw = b"".join(
            p.read_bytes()
            for p in (base, Path(f"{base}-wal"), Path(f"{base}-journal"))
            if p.exists()
        )
        assert b"alice" not in raw and b"bob" not in raw
    async with db.sessions.begin() as s:
        summary = await tips.privacy_summary(s, ALICE)
        assert summary is not None and "2 day(s) you marked done" in summary
        assert await tips.privacy_summary(s, "@nobody:localhost") is None
        assert "deleted your 2 mark(s)" in await tips.forget(s, ALICE)
    async with db.sessions.begin() as s:
        assert await tips.privacy_summary(s, ALICE) is None
        assert "nothing stored" in await tips.forget(s, ALICE)
        left = list(await s.scalars(select(TipMark)))
    assert len(left) == 1  # bob's
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "marked done by one more person" in logged
    assert "alice" not in logged and "bob" not in logged


async def test_tips_marks_need_the_key(db: Database, tips_file: Path) -> None:
    """Marks made under one key are not found under another (and not from the DB alone)."""
    clock = ManualClock(utc(2026, 12, 1, 8, 1))
    router, tips = make_router(
        make_services(db, tips_file, clock, marker_key="first-key-0123456789")
    )
    await posted_days(db, router, tips, clock, [1])
    await react(router, ALICE, "$tip1", 1)
    _, other = make_router(make_services(db, tips_file, clock, marker_key="other-key-0123456789"))
    run = (date(2026, 12, 1), date(2026, 12, 5))
    async with db.sessions() as s:
        campaign = tips.campaigns[0]
        assert await tips.tracker.progress(s, campaign, run, ALICE) == {date(2026, 12, 1)}
        assert await other.tracker.progress(s, campaign, run, ALICE) == set()


async def test_tips_privacy_and_forget_me_through_the_commands(
    db: Database, tips_file: Path
) -> None:
    """``!privacy`` lists the asker's tip marks (counts); ``!forget me`` deletes them."""
    from bot.app import build_router
    from bot.features.tips import TipsPlugin
    from bot.features.tips.privacy import TipsPrivacy
    from bot.privacy import PrivacyRegistry

    clock = ManualClock(utc(2026, 12, 1, 8, 1))
    services = make_services(db, tips_file, clock)
    wired = PrivacyRegistry(services)
    build_router(services, [TipsPlugin(services)], privacy=wired)  # the plugin's part
    assert any(isinstance(p, TipsPrivacy) for p in wired.providers)
    router, tips = make_router(services)
    privacy = PrivacyRegistry(services)
    privacy.register(router)
    privacy.add(TipsPrivacy(tips))
    await posted_days(db, router, tips, clock, [1, 2])
    await react(router, ALICE, "$tip1", 1)
    await react(router, ALICE, "$tip2", 2)
    await router.handle(dm("!privacy"))
    body = await last_body(db, DM)
    assert "Security tips" in body and "2 day(s) you marked done" in body
    await router.handle(dm("!forget me"))
    assert "deleted your 2 mark(s)" in await last_body(db, DM)
    async with db.sessions() as s:
        assert await tips.privacy_summary(s, ALICE) is None
