"""Every incident gets acknowledged: past its window it is re-raised and escalated.

Each incident must be acknowledged within ``incidents.ack_within`` for its severity
(business time for ``low``). Past that deadline the steps of ``incidents.escalation``
run: each notify step re-raises the incident in the triage room (a reply to its post)
and DMs its people. Each step goes out once: the job moves ``escalation_level`` with a
compare-and-set on the level it read and on ``acked_at`` (see
:func:`repository.claim_escalation`), so an acknowledgement that lands between the read
and the write always wins, and the messages are queued under ``escalate:<id>:<level>``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents import severity as sev
from bot.features.incidents.models import Incident
from bot.features.incidents.paging import oncall, page_dm
from bot.features.incidents.policy import Stage
from bot.features.incidents.posting import post
from bot.features.incidents.service import ref
from bot.messaging.md import escape, mention
from bot.services import Services

log = logging.getLogger(__name__)

LABELS = {"oncall": "the on-call", "backup": "the backup on-call", "team": "every team member"}


def people(services: Services, notify: str, now: datetime) -> list[str]:
    """Who a notify step reaches: the primary, the backup, or the whole team."""
    rota = oncall(services, now)
    if notify == "oncall":
        return rota[:1]
    if notify == "backup":
        return rota[1:2]
    return sorted(services.security_team())


async def escalate_due(services: Services) -> int:
    """Re-raise and escalate every incident past its acknowledgement window; one step per run.

    Returns:
        How many escalation steps were queued.
    """
    settings = services.settings.incidents
    now = services.clock()
    stages = settings.escalation.stages()
    queued = 0
    async with services.db.sessions.begin() as session:
        for incident in await repo.unacknowledged(session):
            level = incident.escalation_level
            if level >= len(stages):
                continue
            deadline = settings.ack_deadline(incident.severity, incident.created_at)
            if now < deadline + stages[level].after:
                continue
            # Compare-and-set: an acknowledgement since the read above makes this a no-op.
            if not await repo.claim_escalation(session, number=incident.id, level=level):
                continue
            await session.refresh(incident)
            await _escalate(services, session, incident, level + 1, stages[level], deadline, now)
            queued += 1
    if queued:
        services.outbox.wake()
    return queued


async def _escalate(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    level: int,
    stage: Stage,
    deadline: datetime,
    now: datetime,
) -> None:
    n = ref(incident.id)
    users = people(services, stage.notify, now)
    label = LABELS[stage.notify]
    waited = int((now - incident.created_at).total_seconds() // 60)
    window = services.settings.incidents.ack_window(incident.severity)
    again = f" (round {stage.round})" if stage.round > 1 else ""
    key = f"escalate:{incident.id}:{level}"
    who = ", ".join(mention(u) for u in users) or "nobody configured"
    text = (
        f"⏫ **{n}** ({escape(incident.type_name)}, severity {escape(sev.label(incident))}) "
        f"is not acknowledged after {waited} min (window {escape(str(window))}) — escalating "
        f"to {escape(label)}{again}: {who}. Acknowledge with `{{prefix}}ack {n}`."
    )
    if services.rooms.triage:
        await post(
            services,
            session,
            key,
            text,
            room_id=services.rooms.triage,
            mentions=tuple(users),
            in_reply_to=await repo.post_event_id(session, incident=incident),
        )
    for user in users:
        await page_dm(services, session, incident, user, f"{key}:dm:{user}")
    if users and incident.paged_at is None:
        incident.paged_at = now
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=None,
        kind="escalated",
        text=f"Escalation {level} to {label}{again}: {', '.join(users) or 'nobody'}",
    )
    log.info("incident %s escalated to level %d", n, level)
