"""Paging the on-call: who is on call, when an incident needs a page, the page itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents import severity as sev
from bot.features.incidents.models import Incident
from bot.features.incidents.posting import post
from bot.ids import CaseRef
from bot.messaging.md import escape, mention
from bot.services import Services

PAGE_SEVERITIES = ("high", "critical")


def oncall(services: Services, now: datetime) -> list[str]:
    """The on-call at ``now``: ``[primary, backup, ...]`` (rotation time zone, change-over)."""
    return services.settings.incidents.oncall_at(now)


def needs_page(severity: str | None, playbook_urgent: bool) -> bool:
    """High/critical incidents page; so do unrated ones of a type flagged urgent."""
    if severity is None:
        return playbook_urgent
    return severity in PAGE_SEVERITIES or playbook_urgent


async def page(
    services: Services, session: AsyncSession, incident: Incident, targets: list[str], now: datetime
) -> None:
    """Page ``targets`` by DM (one outbox key per incident and user) and note it."""
    incident.paged_at = now
    for user in targets:
        await page_dm(services, session, incident, user, f"incident:{incident.id}:page:{user}")
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=None,
        kind="paged",
        text=f"Paged on-call {', '.join(targets)}" if targets else "No on-call to page",
    )


async def page_dm(
    services: Services, session: AsyncSession, incident: Incident, user: str, key: str
) -> None:
    n = str(CaseRef.incident(incident.id))
    # Paged the moment the type is known, the reporter may not have said more yet.
    what = incident.summary or (
        "not told yet: the reporter is still answering; the details follow in the triage "
        "room, in the thread of the incident post."
    )
    body = (
        f"🚨 You are on call: incident **{n}** ({escape(incident.type_name)}, severity "
        f"{escape(sev.label(incident))}) reported by {mention(incident.reporter)}.\n"
        f"What happened: {escape(what)}\n"
        f"Acknowledge with `{{prefix}}ack {n}` (here or in the triage room)."
    )
    await post(services, session, key, body, dm_user_id=user, mentions=(user,))


async def page_if_needed(
    services: Services, session: AsyncSession, incident: Incident, now: datetime
) -> list[str]:
    if incident.severity not in PAGE_SEVERITIES or incident.paged_at is not None:
        return []
    if incident.acked_at is not None:
        return []  # someone is on it already
    targets = oncall(services, now)[:1]
    await page(services, session, incident, targets, now)
    return targets
