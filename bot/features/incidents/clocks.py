"""Regulatory clocks: deadlines that run from the moment of awareness (GDPR 72 h, NIS2...).

A playbook type (``clocks: [gdpr]``) or ``!clock INC-N gdpr`` starts every deadline of
the named clock in ``incidents.clocks``. The triage thread of the incident is reminded at
50 %, 90 % and at the deadline; each stage is claimed with a compare-and-set on the
stage read (``reminded``), so it goes out once. ``!clock INC-N met gdpr`` records when
the obligation was met; clocks show in ``!show`` and the export.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents.models import Incident, IncidentClock
from bot.messaging.md import escape
from bot.services import Services

log = logging.getLogger(__name__)

STAGES = (50, 90, 100)


async def clock_rows(session: AsyncSession, number: int) -> Sequence[IncidentClock]:
    """The incident's clocks, earliest deadline first."""
    query = (
        select(IncidentClock)
        .where(IncidentClock.incident_id == number)
        .order_by(IncidentClock.deadline_at, IncidentClock.id)
    )
    return (await session.scalars(query)).all()


async def start_clocks(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    name: str,
    *,
    by: str | None,
    now: datetime,
) -> list[IncidentClock]:
    """Start every deadline of clock ``name`` from ``now`` (once per incident and name).

    Returns:
        The clocks started (empty: unknown name or already running).
    """
    deadlines = services.settings.incidents.clocks.get(name)
    if not deadlines:
        return []
    existing = [c for c in await clock_rows(session, incident.id) if c.name == name]
    if existing:
        return []
    started = []
    for d in deadlines:
        clock = IncidentClock(
            incident_id=incident.id,
            name=name,
            label=d.label,
            started_at=now,
            deadline_at=now + d.within,
            reminded=0,
        )
        session.add(clock)
        started.append(clock)
    await session.flush()
    text = "; ".join(f"{c.label} by {c.deadline_at:%Y-%m-%d %H:%M} UTC" for c in started)
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=by,
        kind="clock",
        text=f"Clock {name} started (from awareness): {text}",
    )
    return started


async def mark_met(session: AsyncSession, number: int, name: str, *, by: str, now: datetime) -> int:
    """Record that clock ``name``'s open deadlines were met now; returns how many."""
    result = await session.execute(
        update(IncidentClock)
        .where(
            IncidentClock.incident_id == number,
            IncidentClock.name == name,
            IncidentClock.met_at.is_(None),
        )
        .values(met_at=now, met_by=by)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)
    if count:
        await repo.add_event(
            session, incident_id=number, at=now, author=by, kind="clock", text=f"Clock {name} met"
        )
    return count


def stage_of(clock: IncidentClock, now: datetime) -> int:
    """The highest reminder stage reached at ``now`` (0, 50, 90 or 100)."""
    total = (clock.deadline_at - clock.started_at).total_seconds()
    used = (now - clock.started_at).total_seconds()
    reached = [s for s in STAGES if total <= 0 or used >= total * s / 100]
    return max(reached, default=0)


def _reminder(clock: IncidentClock, number: int, stage: int, now: datetime, p: str) -> str:
    due = f"{clock.deadline_at:%Y-%m-%d %H:%M} UTC"
    if stage >= 100:
        return (
            f"⏰ INC-{number}: the deadline has passed — {clock.label} was due {due}. "
            f"Record it with {p}clock INC-{number} met {clock.name} once done."
        )
    left = clock.deadline_at - now
    hours = int(left.total_seconds() // 3600)
    mins = int(left.total_seconds() % 3600 // 60)
    return (
        f'⏰ INC-{number}: {stage}% of the time for "{clock.label}" is used — due {due} '
        f"({hours} h {mins} min left). Record it with {p}clock INC-{number} met {clock.name}."
    )


async def remind_clocks(services: Services) -> int:
    """Post the due reminders of running clocks in their incident's triage thread.

    Returns:
        How many reminders were queued.
    """
    from bot.features.incidents.service import post

    now = services.clock()
    sent = 0
    async with services.db.sessions.begin() as session:
        running = (
            await session.scalars(
                select(IncidentClock)
                .where(IncidentClock.met_at.is_(None), IncidentClock.reminded < 100)
                .order_by(IncidentClock.id)
            )
        ).all()
        for clock in running:
            stage = stage_of(clock, now)
            if stage <= clock.reminded:
                continue
            claimed = await session.execute(
                update(IncidentClock)
                .where(
                    IncidentClock.id == clock.id,
                    IncidentClock.reminded == clock.reminded,
                    IncidentClock.met_at.is_(None),
                )
                .values(reminded=stage)
                .execution_options(synchronize_session=False)
            )
            if not claimed.rowcount:
                continue  # met, or reminded by another run, since the read
            incident = await repo.get_incident(session, number=clock.incident_id)
            if incident is None or not services.rooms.triage:
                continue
            text = _reminder(clock, incident.id, stage, now, services.settings.bot.command_prefix)
            await post(
                services,
                session,
                f"clock:{clock.id}:{stage}",
                escape(text),
                room_id=services.rooms.triage,
                thread_root=await repo.post_event_id(session, incident=incident),
            )
            log.info("incident INC-%d: clock %s reminder at %d%%", incident.id, clock.name, stage)
            sent += 1
    if sent:
        services.outbox.wake()
    return sent


def clock_summary(clocks: Sequence[IncidentClock]) -> list[str]:
    """One line per clock for chat (Markdown)."""
    return [
        f"{escape(c.name)}: {escape(c.label)} — due {c.deadline_at:%Y-%m-%d %H:%M} UTC, "
        + (
            f"met {c.met_at:%Y-%m-%d %H:%M} UTC by {escape(c.met_by or '')}"
            if c.met_at
            else "not met yet"
        )
        for c in clocks
    ]


def _met(clock: IncidentClock) -> str:
    return f"met {clock.met_at:%Y-%m-%d %H:%M} UTC by {escape(clock.met_by or '')}"
