"""Abuse guards for incident reports: the per-user limit and the merge window.

A second report of the same type from the same person within ``incidents.merge_window``
of an open incident of theirs is added to that incident (and the reporter is told so) instead of
filing, posting and paging again: one person cannot page the team in a loop.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import CommandContext
from bot.features.incidents import repository as repo
from bot.features.incidents.models import OPEN_STATUSES, Incident

log = logging.getLogger(__name__)


def count_report(ctx: CommandContext) -> None:
    """Count one incident report of the sender (raises RateLimited when over the limit)."""
    ctx.services.rate_limit("incidents", ctx.sender)


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


async def merge_target(ctx: CommandContext, type_key: str) -> Incident | None:
    """The open incident a new report of the sender should be added to, if any.

    Only one of the same type: a report of another kind is a new incident (and the
    per-user incident limit still bounds how many of those one person can file).
    """
    window = ctx.services.settings.incidents.merge_window
    if window.total_seconds() <= 0:
        return None
    return await recent_open_incident(
        ctx.session, reporter=ctx.sender, type_key=type_key, since=ctx.now - window
    )


async def merge_report(
    ctx: CommandContext, incident: Incident, type_name: str, summary: str
) -> str:
    """Add a repeated report to ``incident``'s timeline; the reporter's answer.

    No post, no page: the team already has the incident and is being paged for it.
    """
    text = f"Further report from the reporter ({type_name})" + (f": {summary}" if summary else "")
    await repo.add_event(
        ctx.session,
        incident_id=incident.id,
        at=ctx.now,
        author=ctx.sender,
        kind="merged",
        text=text,
        source_event_id=ctx.message.event_id,  # a redaction of it erases this text
    )
    log.info("incident INC-%d: a repeated report was merged into it", incident.id)
    return (
        f"You reported INC-{incident.id} a few minutes ago and it is still open, so I've added "
        "this to it instead of alerting the team again. They have it; they will contact you."
    )
