"""Team verbs only where the team is, abuse limits and hostile ids, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import text as sql

from bot.commands.context import RoomKind
from bot.commands.router import Permission
from bot.storage import Database
from tests.support.desk import ALICE, LEAD, Desk

ONCALL = "@oncall:test"


class SecurityDesk(Desk):
    security_team = (LEAD, ONCALL)

    def __init__(self, db: Database, **overrides: object):
        overrides.setdefault("incidents", {"oncall": [ONCALL]})
        overrides.setdefault("limits", {"enabled": True})
        super().__init__(db, **overrides)

    async def text(self, body: str, *, step: float = 6.0, **kwargs: object) -> str:
        """The bot's reply to ``body``, ``step`` seconds after the previous message."""
        self.clock.advance(timedelta(seconds=step))
        msg, _ = await self.say(body, **kwargs)
        row = await self.reply_to(msg.event_id)
        return "" if row is None else str(row.content.get("body", ""))


@pytest.fixture
async def desk(db: Database) -> AsyncIterator[SecurityDesk]:
    d = SecurityDesk(db)
    yield d
    await d.close()


async def test_security_team_verbs_refused_outside_team_places(desk: SecurityDesk) -> None:
    await desk.say("!incident device lost my laptop", sender=ALICE, room="helpdesk")
    await desk.say("!ticket my password leaked", sender=ALICE, room="dm")
    refusal = desk.router.team_places_text()
    team_verbs = [
        c.name for c in desk.router._commands.values() if c.permission is Permission.SECURITY_TEAM
    ]
    assert {"ack", "sev", "assign", "note", "show", "tickets", "export"} <= set(team_verbs)
    # !status is open to reporters (their own incident, in a DM) but refused like the rest.
    team_verbs.append("status")
    args = {"assign": "INC-1 " + LEAD, "sev": "INC-1 high", "note": "INC-1 x", "status": "T-1 x"}
    for verb in team_verbs:
        body = f"!{verb} {args.get(verb, 'INC-1')}"
        for sender in (LEAD, ALICE):
            for room, kind in (("helpdesk", None), ("!group:test", RoomKind.OTHER)):
                got = await desk.text(body, sender=sender, room=room, kind=kind)
                assert got == refusal, (verb, sender, room, got)
    # In the triage room and a team member's DM, the team's verbs work.
    assert "laptop" in await desk.text("!show INC-1", sender=LEAD, room="triage")
    assert "password" in await desk.text("!show T-1", sender=LEAD, room="dm")
    assert "security team" in await desk.text("!show T-1", sender=ALICE, room="dm")


async def test_security_assign_accepts_only_team_members(desk: SecurityDesk) -> None:
    await desk.say("!incident device lost my laptop", sender=ALICE, room="helpdesk")
    got = await desk.text(f"!assign INC-1 {ALICE}", sender=LEAD, room="triage")
    assert "not in the security team" in got
    assert await desk.to_dm(ALICE) and all("assigned" not in b for b in await desk.to_dm(ALICE))
    assert "assigned to" in await desk.text(f"!assign INC-1 {ONCALL}", sender=LEAD, room="triage")


@pytest.mark.parametrize("ref", ["INC-²", "INC-١", "T-٣", "²", "INC-99999999999"])
async def test_security_ids_ascii_digits_only(desk: SecurityDesk, ref: str) -> None:
    for verb in ("ack", "show", "export"):
        got = await desk.text(f"!{verb} {ref}", sender=LEAD, room="triage")
        assert "went wrong" not in got and got, (verb, got)


async def test_security_incident_flood_pages_once_and_notifies_once(desk: SecurityDesk) -> None:
    replies = [
        await desk.text(f"!incident device lost laptop {i}", sender=ALICE, room="helpdesk", step=0)
        for i in range(25)
    ]
    pages = [b for b in await desk.to_dm(ONCALL) if "You are on call" in b]
    assert len(pages) == 1
    notices = [r for r in replies if "pause" in r]
    assert len(notices) == 1, replies
    assert "Added to your open report INC-1" in replies[1]
    assert all(r == "" for r in replies[replies.index(notices[0]) + 1 :])
    # The team is exempt from the command limit.
    for _ in range(30):
        assert await desk.text("!incidents", sender=LEAD, room="triage")


async def test_security_overlong_answers_reach_no_interceptor(desk: SecurityDesk) -> None:
    await desk.text("!incident", sender=ALICE)
    await desk.text("lost laptop", sender=ALICE)  # INC-1 filed; the intake asks what happened
    await desk.text("!ticket help me", sender=ALICE)
    long = "y" * (desk.services.settings.bot.max_message_length + 1)
    assert "too long" in await desk.text(long, sender=ALICE)
    assert "too long" in await desk.text("> quoted\n" + long, sender=ALICE, in_reply_to="$x")
    rows = await desk.rows()
    assert all(long not in str(r.content) for r in rows)
    async with desk.db.sessions() as session:
        for table in ("incidents", "incident_events", "incident_intakes", "ticket_comments"):
            dump = str((await session.execute(sql(f"SELECT * FROM {table}"))).all())
            assert "yyyyyyyyyy" not in dump, table


async def test_security_room_reply_limit_one_notice(db: Database) -> None:
    desk = SecurityDesk(db, limits={"replies": {"burst": 3, "per_minute": 1}})
    answers = [
        await desk.text("!ping", sender=f"@u{i}:test", room="helpdesk", step=0) for i in range(8)
    ]
    assert answers[:3] == ["pong"] * 3
    assert "pausing here" in answers[3] and answers[4:] == [""] * 4
    # The triage room is never paused.
    triage = [await desk.text("!ping", sender=LEAD, room="triage", step=0) for _ in range(5)]
    assert triage == ["pong"] * 5
