"""Abuse guards for incident reports: the per-user limit and the merge window.

A second report of the same type from the same person within ``incidents.merge_window``
of an open incident of theirs is added to that incident (and the reporter is told so) instead of
filing, posting and paging again: one person cannot page the team in a loop.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents.models import OPEN_STATUSES, Incident

if TYPE_CHECKING:
    from bot.features.incidents.settings import IncidentsSettings
    from bot.services import Services

log = logging.getLogger(__name__)


def count_report(services: Services, reporter: str) -> None:
    """Count one incident report of ``reporter`` (raises RateLimited when over the limit)."""
    services.rate_limit("incidents", reporter)


async def recent_open_incident(
    session: AsyncSession, *, reporter: str, type_key: str, since: datetime
) -> Incident | None:
    """The reporter's newest open incident of ``type_key`` filed since ``since``, if any."""
    query = (
        select(Incident)
        .where(
            Incident.reporter == reporter,
            Incident.type_key == type_key,
            Incident.status.in_(OPEN_STATUSES),
            Incident.created_at >= since,
        )
        .order_by(Incident.id.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def merge_target(
    session: AsyncSession,
    settings: IncidentsSettings,
    *,
    reporter: str,
    type_key: str,
    now: datetime,
) -> Incident | None:
    """The open incident a new report of the sender should be added to, if any.

    Only one of the same type: a report of another kind is a new incident (and the
    per-user incident limit still bounds how many of those one person can file).
    """
    window = settings.merge_window
    if window.total_seconds() <= 0:
        return None
    return await recent_open_incident(
        session, reporter=reporter, type_key=type_key, since=now - window
    )


async def merge_report(
    session: AsyncSession,
    incident: Incident,
    type_name: str,
    summary: str,
    *,
    reporter: str,
    now: datetime,
    source_event_id: str,
) -> str:
    """Add a repeated report to ``incident``'s timeline; the reporter's answer.

    No post, no page: the team already has the incident and is being paged for it.
    """
    text = f"Further report from the reporter ({type_name})" + (f": {summary}" if summary else "")
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=reporter,
        kind="merged",
        text=text,
        source_event_id=source_event_id,  # a redaction of it erases this text
    )
    log.info("incident INC-%d: a repeated report was merged into it", incident.id)
    return (
        f"You reported INC-{incident.id} a few minutes ago and it is still open, so I've added "
        "this to it instead of alerting the team again. They have it; they will contact you."
    )
