"""Escalation of paged incidents nobody acknowledged: backup on-call, then the whole team.

Each level goes out once: the level is stored on the incident and every message is
queued under the outbox key ``escalate:<id>:<level>``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import escape, pill
from bot.features.incidents import repository as repo
from bot.features.incidents.models import Incident
from bot.features.incidents.service import oncall, page_dm, post, ref
from bot.services import Services

log = logging.getLogger(__name__)


def escalation_levels(services: Services, now: datetime) -> list[tuple[str, list[str], bool]]:
    """Escalation steps after the first page: (label, users, send a DM)."""
    people = oncall(services, now)
    levels: list[tuple[str, list[str], bool]] = []
    if len(people) > 1:
        levels.append(("backup on-call", people[1:2], True))
    team = sorted(services.security_team() - set(people[:2]))
    levels.append(("the whole security team", team or sorted(services.security_team()), False))
    return levels


async def escalate_due(services: Services) -> int:
    """Escalate every paged incident that is not acknowledged in time; one level per run.

    Returns:
        How many escalations were queued.
    """
    settings = services.settings.incidents
    now = services.clock()
    queued = 0
    levels = escalation_levels(services, now)  # the same for every incident of this run
    async with services.db.sessions.begin() as session:
        for incident in await repo.unacknowledged_paged(session):
            assert incident.paged_at is not None
            level = incident.escalation_level + 1
            if level > len(levels) or now < incident.paged_at + settings.escalate_after * level:
                continue
            label, users, dm = levels[level - 1]
            await _escalate(services, session, incident, level, label, users, dm, now)
            queued += 1
    if queued:
        services.outbox.wake()
    return queued


async def _escalate(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    level: int,
    label: str,
    users: list[str],
    dm: bool,
    now: datetime,
) -> None:
    n = ref(incident.id)
    minutes = int((now - (incident.paged_at or now)).total_seconds() // 60)
    key = f"escalate:{incident.id}:{level}"
    text = (
        f"⏫ {n} is not acknowledged after {minutes} min — escalating to {label}: "
        f"{', '.join(users) or 'nobody configured'}. Acknowledge with !ack {n}."
    )
    html = (
        f"<p>⏫ <strong>{n}</strong> is not acknowledged after {minutes} min — escalating to "
        f"{escape(label)}: {', '.join(pill(u) for u in users) or 'nobody configured'}. "
        f"Acknowledge with <code>!ack {n}</code>.</p>"
    )
    if services.rooms.triage:
        await post(
            services,
            session,
            key,
            text,
            html,
            room_id=services.rooms.triage,
            mentions=tuple(users),
            in_reply_to=await repo.post_event_id(session, incident=incident),
        )
    if dm:
        for user in users:
            await page_dm(services, session, incident, user, f"{key}:dm:{user}")
    incident.escalation_level = level
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=None,
        kind="escalated",
        text=f"Escalation {level} to {label}: {', '.join(users) or 'nobody'}",
    )
    log.info("incident %s escalated to level %d", n, level)
