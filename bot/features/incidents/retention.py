"""Retention and redaction for incidents: private text does not outlive its need.

``incidents.retention_days`` (off by default, like tickets): the text of incidents
closed longer ago than that is erased — summary, answers, notes, updates, pinned and
kept thread messages — while the skeleton (type, severity, who, when) stays for
statistics. A redacted (deleted) Matrix message the bot kept (a thread message, a pin)
is erased at once, and the timeline says so.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Redaction
from bot.features.incidents import repository as repo
from bot.features.incidents.chain import erased
from bot.features.incidents.models import Incident, IncidentEvent, IncidentMessage
from bot.services import Services

log = logging.getLogger(__name__)

CLOSED = ("resolved", "closed")
# Timeline lines that carry people's words (the rest: status, severity, pages... stay).
TEXT_KINDS = ("note", "update", "answer", "pinned", "merged", "intake")


async def on_redaction(redaction: Redaction, session: AsyncSession, services: Services) -> None:
    """Erase what the bot kept of event ``redacts``; note it on the incident's timeline."""
    redacts = redaction.redacts
    now = services.clock()
    touched: set[int] = set()
    kept = await session.get(IncidentMessage, redacts)
    if kept is not None:
        touched.add(kept.incident_id)
        await session.delete(kept)
    lines = await session.scalars(
        select(IncidentEvent).where(IncidentEvent.source_event_id == redacts)
    )
    for line in lines:
        touched.add(line.incident_id)
        incident = await session.get(Incident, line.incident_id)
        if incident is not None:
            _erase_field_from(incident, line)
        if line.kind == "reported":
            continue  # the line itself holds no words of theirs (type, severity, steps)
        line.text = erased(line.text, "the message was deleted in Matrix")
    for incident_id in sorted(touched):
        await repo.add_event(
            session,
            incident_id=incident_id,
            at=now,
            author=None,
            kind="redacted",
            text="A message kept for this incident was deleted in Matrix; its text was erased.",
        )
        log.info("incident INC-%d: text of a redacted message erased", incident_id)


# Which incident field an intake answer filled, by the label its timeline line starts with.
_ANSWER_FIELDS = {"What happened:": "summary", "When:": "occurred", "Affected:": "affected"}


def _erase_field_from(incident: Incident, line: IncidentEvent) -> None:
    """Clear the incident field that the redacted message filled (summary, when, affected)."""
    if line.kind == "reported":  # a one-shot report: its message was the summary
        incident.summary = ""
        return
    if line.kind != "answer":
        return
    for label, name in _ANSWER_FIELDS.items():
        if line.text.startswith(label):
            setattr(incident, name, "" if name == "summary" else None)


async def purge_old_incidents(services: Services, now: datetime | None = None) -> int:
    """Erase the text of incidents closed more than ``retention_days`` ago.

    Returns:
        How many incidents were purged.
    """
    days = services.settings.incidents.retention_days
    if days is None:
        return 0
    now = now or services.clock()
    cutoff = now - timedelta(days=days)
    purged = 0
    async with services.db.sessions.begin() as session:
        closed_at = (
            select(IncidentEvent.incident_id, func.max(IncidentEvent.at).label("at"))
            .group_by(IncidentEvent.incident_id)
            .subquery()
        )
        query = (
            select(Incident)
            .join(closed_at, closed_at.c.incident_id == Incident.id)
            .where(
                Incident.status.in_(CLOSED),
                Incident.purged_at.is_(None),
                closed_at.c.at <= cutoff,
            )
        )
        for incident in await session.scalars(query):
            await _erase(session, incident, now)
            purged += 1
    return purged


async def _erase(session: AsyncSession, incident: Incident, now: datetime) -> None:
    incident.summary, incident.occurred, incident.affected = "", None, None
    incident.purged_at = now
    lines = await session.scalars(
        select(IncidentEvent).where(
            IncidentEvent.incident_id == incident.id, IncidentEvent.kind.in_(TEXT_KINDS)
        )
    )
    for line in lines:
        line.text = erased(line.text, "retention")
    await session.execute(delete(IncidentMessage).where(IncidentMessage.incident_id == incident.id))
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=None,
        kind="purged",
        text="Text erased by the retention policy (incidents.retention_days)",
    )
    log.info("incident INC-%d text purged (retention)", incident.id)
