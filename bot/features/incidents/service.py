"""Incident logic: filing, acknowledgement and severity (paging: paging.py; escalation:
escalation.py).

Messages that must go out exactly once (the triage-room post, pages, escalations) are
posted with :meth:`Messenger.post` under stable keys (``incident:<n>:post``,
``escalate:<n>:<level>``...) in the caller's transaction, so a retry never repeats them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents import severity as sev
from bot.features.incidents.models import SEVERITIES, Incident
from bot.features.incidents.paging import needs_page, oncall, page, page_if_needed
from bot.features.incidents.playbooks import Playbook
from bot.features.incidents.posting import post
from bot.ids import CaseRef
from bot.messaging import Subject
from bot.messaging.md import escape, mention
from bot.services import Services

log = logging.getLogger(__name__)


def ref(number: int) -> str:
    return str(CaseRef.incident(number))


@dataclass(frozen=True)
class Filed:
    incident: Incident
    paged: list[str]  # user ids paged (mentioned and DMed)


async def file_incident(
    services: Services,
    session: AsyncSession,
    *,
    reporter: str,
    playbook: Playbook,
    summary: str,
    occurred: str | None,
    affected: str | None,
    severity: str | None,
    now: datetime,
    details_pending: bool = False,
    source_event_id: str | None = None,
) -> Filed:
    """Record an incident, post it in the triage room and page the on-call if needed.

    Args:
        details_pending: filed by the guided intake as soon as the type is known; the
            reporter's answers follow (``summary`` is empty until then).
    """
    given = severity
    severity, why = sev.initial(playbook, given, summary)
    incident = await repo.create_incident(
        session,
        type_key=playbook.key,
        type_name=playbook.name,
        summary=summary,
        occurred=occurred,
        affected=affected,
        severity=severity,
        reporter=reporter,
        first_steps=list(playbook.first_steps),
        created_at=now,
    )
    n = incident.id
    log.info("incident %s filed (type %s, %d chars)", ref(n), playbook.key, len(summary))
    await repo.add_event(
        session,
        incident_id=n,
        at=now,
        author=reporter,
        kind="reported",
        text=f"Reported ({playbook.name}, severity {severity}: {why}); "
        f"{len(playbook.first_steps)} first steps given"
        + ("; the details follow from the guided intake" if details_pending else ""),
        # A one-shot report's message: redacting it erases the summary (see retention).
        source_event_id=source_event_id,
    )
    urgent = needs_page(severity, playbook.urgent and given is None)
    targets = await _announce(services, session, incident, details_pending, urgent, now)
    if playbook.clocks:
        from bot.features.incidents.clocks import start_clocks

        for name in playbook.clocks:
            await start_clocks(services, session, incident, name, by=None, now=now)
    return Filed(incident, targets)


async def _announce(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    details_pending: bool,
    urgent: bool,
    now: datetime,
) -> list[str]:
    """Post the new incident in the triage room and page the on-call if ``urgent``.

    Returns:
        The users paged.
    """
    targets = oncall(services, now)[:1] if urgent else []
    if services.rooms.triage:
        incident.triage_txn_id = await post(
            services,
            session,
            f"incident:{incident.id}:post",
            _post_text(incident, details_pending, targets, urgent=urgent),
            room_id=services.rooms.triage,
            mentions=tuple(targets),
            subject=Subject("incident", incident.id, "post"),
        )
    if urgent:
        await page(services, session, incident, targets, now)
    return targets


def _post_text(
    incident: Incident, details_pending: bool, targets: list[str], *, urgent: bool
) -> str:
    """The new incident's post in the triage room (Markdown)."""
    n = incident.id
    lines = [
        f"🚨 **New incident {ref(n)}**: {escape(incident.type_name)} — severity "
        f"{escape(sev.label(incident))}",
        f"Reported by {mention(incident.reporter)}",
        "",
    ]
    if details_pending:
        lines += ["The reporter is answering my questions now; the details follow in this thread."]
    else:
        lines += [
            f"- What happened: {escape(incident.summary)}",
            f"- When: {escape(incident.occurred or '—')}",
            f"- Affected: {escape(incident.affected or '—')}",
        ]
    if targets:
        lines += ["", "Paging on-call: " + ", ".join(mention(u) for u in targets)]
    elif urgent:
        lines += ["", "⚠ This needs a page but no on-call is configured (incidents.oncall)."]
    lines += ["", f"Acknowledge with `{{prefix}}ack {ref(n)}`; reply in this thread to discuss."]
    return "\n".join(lines)


async def acknowledge(session: AsyncSession, incident: Incident, *, by: str, now: datetime) -> bool:
    """Mark acknowledged (stops escalation). Returns False if it already was.

    A compare-and-set on ``acked_at``: of an acknowledgement and an escalation tick that
    race, exactly one changes the row, so no page follows "escalation stopped".
    """
    if not await repo.claim_ack(session, number=incident.id, by=by, now=now):
        await session.refresh(incident)
        return False
    await session.refresh(incident)
    if incident.status == "reported":
        incident.status = "acknowledged"
    if incident.lead is None:
        incident.lead = by  # the first acknowledger leads until someone hands over
    await repo.add_event(
        session, incident_id=incident.id, at=now, author=by, kind="ack", text="Acknowledged"
    )
    return True


async def raise_severity(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    severity: str,
    *,
    why: str,
    by: str | None,
    now: datetime,
) -> list[str]:
    """Raise an unrated incident's severity (signals, the reporter); never lowers it.

    Returns:
        The users paged now (empty if none).
    """
    if incident.severity_set_by is not None or sev.rank(severity) <= sev.rank(incident.severity):
        return []
    old = incident.severity
    incident.severity = severity
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=by,
        kind="severity",
        text=f"Severity {old or 'unset'} → {severity} ({why})",
    )
    paged = await page_if_needed(services, session, incident, now)
    if services.rooms.triage:
        text = f"⏫ {ref(incident.id)}: severity {old or 'unset'} → {severity} ({escape(why)})."
        if paged:
            text += " Paging on-call: " + ", ".join(mention(u) for u in paged)
        await post(
            services,
            session,
            f"incident:{incident.id}:raised:{severity}",
            text,
            room_id=services.rooms.triage,
            mentions=tuple(paged),
            thread_root=await repo.post_event_id(session, incident=incident),
        )
    return paged


async def set_severity(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    severity: str,
    *,
    by: str,
    now: datetime,
) -> list[str]:
    """Change the severity; raising it to high/critical pages the on-call if not paged yet.

    Returns:
        The users paged now (empty if none).
    """
    assert severity in SEVERITIES
    old = incident.severity
    incident.severity = severity
    incident.severity_set_by = by
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=by,
        kind="severity",
        text=f"Severity {old or 'unset'} → {severity}",
    )
    return await page_if_needed(services, session, incident, now)
