"""Retention of incidents and erasure of redacted messages (both databases)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.commands.context import IncomingMessage, Redaction
from bot.features.incidents.chain import check_chain
from bot.features.incidents.models import Incident, IncidentEvent, IncidentMessage
from bot.features.incidents.retention import purge_old_incidents
from bot.features.tickets.models import Ticket, TicketComment, TicketEvent
from bot.storage import Database
from tests.support.desk import ALICE, LEAD, Desk

SECRET = "left-it-on-the-train"
BOB = "@bob:test"


def redaction(event_id: str, target: IncomingMessage) -> Redaction:
    """The redaction ``event_id`` of the message ``target``, by its sender."""
    return Redaction(
        event_id=event_id,
        room_id=target.room_id,
        sender=target.sender,
        redacts=target.event_id,
        timestamp=target.timestamp,
        room_kind=target.room_kind,
    )


async def test_security_incident_retention(db: Database) -> None:
    desk = Desk(db, incidents={"retention_days": 30})
    await desk.say(f"!incident device {SECRET}", sender=ALICE)
    await desk.say(f"!note INC-1 note {SECRET}", sender=LEAD, room="triage")
    await desk.say("!status INC-1 closed", sender=LEAD, room="triage")
    desk.clock.advance(timedelta(days=29))
    assert await purge_old_incidents(desk.services) == 0
    desk.clock.advance(timedelta(days=2))
    assert await purge_old_incidents(desk.services) == 1
    assert await purge_old_incidents(desk.services) == 0
    async with db.sessions() as session:
        incident = await session.get(Incident, 1)
        assert incident is not None and incident.purged_at is not None
        assert incident.status == "closed" and incident.type_key == "device"
        lines = list(await session.scalars(select(IncidentEvent)))
    assert all(SECRET not in line.text for line in lines)
    assert any(line.kind == "purged" for line in lines)
    # Erasing text keeps the tamper-evident chain whole (and still catches an edit).
    assert check_chain(sorted(lines, key=lambda e: e.id)) == []
    forged = sorted(lines, key=lambda e: e.id)
    forged[0].text = "something else entirely"
    assert check_chain(forged) != []
    shown = await desk.say("!show INC-1", sender=LEAD, room="triage")
    row = await desk.reply_to(shown[0].event_id)
    assert row is not None and SECRET not in row.content["body"]


async def test_security_redaction_erases_ticket_and_incident_text(db: Database) -> None:
    desk = Desk(db)
    filed, _ = await desk.say(f"!ticket anonymous {SECRET}", sender=ALICE)
    comment, _ = await desk.say(f"!comment T-1 more {SECRET}", sender=ALICE)
    await desk.say(f"!incident device {SECRET}", sender=ALICE)
    await desk.mark_sent()
    async with db.sessions() as session:
        post = (await session.scalars(select(Incident))).one().triage_txn_id
    rows = [r for r in await desk.rows() if r.txn_id == post]
    thread, _ = await desk.say(
        f"seen {SECRET}", sender=LEAD, room="triage", thread_root=rows[0].sent_event_id
    )
    await desk.react(thread.event_id)

    for i, target in enumerate((filed, comment, thread)):
        assert await desk.router.handle_redaction(redaction(f"$redact{i}", target))
    assert not await desk.router.handle_redaction(redaction("$redact0", filed))
    async with db.sessions() as session:
        ticket = await session.get(Ticket, 1)
        assert ticket is not None and ticket.text is None
        assert all(c.text is None for c in await session.scalars(select(TicketComment)))
        history = [e.action for e in await session.scalars(select(TicketEvent))]
        assert history.count("redacted") == 2
        assert await session.get(IncidentMessage, thread.event_id) is None
        lines = list(await session.scalars(select(IncidentEvent)))
    assert any(line.kind == "redacted" for line in lines)
    assert all(f"seen {SECRET}" not in line.text for line in lines)
    assert check_chain(sorted(lines, key=lambda e: e.id)) == []


async def test_security_redaction_erases_incident_reports_and_intake_answers(
    db: Database,
) -> None:
    """The words of a one-shot report and of intake answers go when their message does."""
    desk = Desk(db)
    oneshot, _ = await desk.say(f"!incident device {SECRET}", sender=ALICE)
    merged, _ = await desk.say(f"!incident device again {SECRET}", sender=ALICE)
    await desk.say("!incident", sender=BOB)
    await desk.say("device", sender=BOB)  # the type: INC-2 is filed, the intake goes on
    answer, _ = await desk.say(f"bob's laptop {SECRET}", sender=BOB)  # what happened

    async with db.sessions() as session:
        before = [i.summary for i in await session.scalars(select(Incident).order_by(Incident.id))]
    assert all(SECRET in s for s in before), before
    assert await desk.router.handle_redaction(redaction("$r-oneshot", oneshot))
    assert await desk.router.handle_redaction(redaction("$r-answer", answer))
    assert await desk.router.handle_redaction(redaction("$r-merged", merged))
    async with db.sessions() as session:
        incidents = list(await session.scalars(select(Incident).order_by(Incident.id)))
        lines = sorted(await session.scalars(select(IncidentEvent)), key=lambda e: e.id)
    assert [i.summary for i in incidents] == ["", ""]
    assert all(SECRET not in line.text for line in lines)
    assert any(line.kind == "merged" for line in lines)  # the repeat was merged into INC-1
    assert any(line.kind == "redacted" and line.incident_id == 2 for line in lines)
    for number in (1, 2):
        assert check_chain([e for e in lines if e.incident_id == number]) == []
