"""A "not a security matter" close names the area's owner from the responsibilities map."""

from __future__ import annotations

from pathlib import Path

from bot.features.ownership.importer import import_map
from bot.storage import Database
from tests.support.desk import START
from tests.tickets.helpers import ALICE, LEAD, Desk

MAP = Path(__file__).resolve().parents[2] / "config" / "responsibilities.yaml"


async def test_tickets_not_security_close_names_the_owner(db: Database) -> None:
    async with db.sessions.begin() as session:
        await import_map(session, MAP.read_text(), actor="test", now=START)
    desk = Desk(db)
    await desk.say(ALICE, "!ticket the DNS records of our domain point somewhere odd")
    await desk.say(ALICE, "!ticket my chair squeaks")
    ev = await desk.say(LEAD, "!close T-1 not a security matter dns", room="triage")
    told = " ".join(r.content["body"] for r in await desk.sent_after(ev))
    assert "It belongs to DNS and domains" in told and "@" in told.split("please ask")[1]
    # No confident match: the old pointer to !owner stays.
    ev = await desk.say(LEAD, "!close T-2 not a security matter", room="triage")
    told = " ".join(r.content["body"] for r in await desk.sent_after(ev))
    assert "!owner" in told and "It belongs to" not in told
