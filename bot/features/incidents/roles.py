"""Roles: the incident lead, hand-offs, and the lead's reminders to post updates.

The first acknowledger leads unless ``!lead INC-N @user`` hands over (recorded on the
timeline). Until the incident is contained, the lead is reminded by DM to post a status
update every ``incidents.update_every`` for its severity; the reminder time is claimed
with a compare-and-set on the value read, so a reminder goes out once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents.models import Incident
from bot.messaging.md import escape
from bot.services import Services

log = logging.getLogger(__name__)

UNTIL_CONTAINED = ("acknowledged", "investigating")


async def set_lead(
    session: AsyncSession, incident: Incident, lead: str, *, by: str, now: datetime
) -> str | None:
    """Make ``lead`` the incident's lead; returns the previous lead."""
    old = incident.lead
    incident.lead = lead
    text = f"Lead handed over: {old} → {lead}" if old else f"Lead: {lead}"
    await repo.add_event(
        session, incident_id=incident.id, at=now, author=by, kind="lead", text=text
    )
    return old


async def remind_leads(services: Services) -> int:
    """DM each lead whose incident is due a status update (until contained).

    Returns:
        How many reminders were queued.
    """
    from bot.features.incidents.service import post, ref

    settings = services.settings.incidents
    now = services.clock()
    sent = 0
    async with services.db.sessions.begin() as session:
        rows = (
            await session.scalars(
                select(Incident)
                .where(Incident.lead.is_not(None), Incident.status.in_(UNTIL_CONTAINED))
                .where(Incident.merged_into.is_(None))
                .order_by(Incident.id)
            )
        ).all()
        for incident in rows:
            every = settings.update_interval(incident.severity)
            last = max(
                t for t in (incident.last_update_at, incident.acked_at, incident.created_at) if t
            )
            reminded = incident.update_reminded_at
            if now < last + every or (reminded is not None and now < reminded + every):
                continue
            if not await _claim_reminder(session, incident.id, reminded, now):
                continue
            n = ref(incident.id)
            p = services.settings.bot.command_prefix
            minutes = int(every.total_seconds() // 60)
            text = (
                f"🕑 You lead {n} ({incident.type_name}, {incident.status}). It is time for a "
                f"status update (every {minutes} min until contained): post it in the "
                f"incident's thread, {p}update {n} <text> for the reporter, or "
                f"{p}status {n} contained."
            )
            assert incident.lead is not None
            await post(
                services,
                session,
                f"incident:{incident.id}:update-reminder:{now.isoformat()}",
                escape(text),
                dm_user_id=incident.lead,
            )
            log.info("incident %s: lead reminded to post an update", n)
            sent += 1
    if sent:
        services.outbox.wake()
    return sent


async def _claim_reminder(
    session: AsyncSession, number: int, reminded: datetime | None, now: datetime
) -> bool:
    """Mark the reminder sent, unless another replica or tick did since ``reminded``."""
    claimed = await session.execute(
        update(Incident)
        .where(
            Incident.id == number,
            (Incident.update_reminded_at == reminded)
            if reminded is not None
            else Incident.update_reminded_at.is_(None),
            Incident.status.in_(UNTIL_CONTAINED),
        )
        .values(update_reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount)
