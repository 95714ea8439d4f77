"""Database access for incidents: keyword-only, the session passed in, never committing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents.models import (
    OPEN_STATUSES,
    Incident,
    IncidentEvent,
    IncidentIntake,
    IncidentMessage,
)
from bot.messaging import Messenger, Subject


async def create_incident(session: AsyncSession, **values: Any) -> Incident:
    """Insert an incident and return it with its number assigned."""
    incident = Incident(status="reported", escalation_level=0, **values)
    session.add(incident)
    await session.flush()
    return incident


async def get_incident(session: AsyncSession, *, number: int) -> Incident | None:
    return await session.get(Incident, number)


async def list_incidents(session: AsyncSession, *, open_only: bool) -> Sequence[Incident]:
    query = select(Incident).order_by(Incident.id.desc())
    if open_only:
        query = query.where(Incident.status.in_(OPEN_STATUSES))
    return (await session.scalars(query.limit(50))).all()


async def add_event(
    session: AsyncSession,
    *,
    incident_id: int,
    at: datetime,
    author: str | None,
    kind: str,
    text: str,
    source_event_id: str | None = None,
) -> IncidentEvent:
    """Append one line to the incident's timeline, chained to the previous line's hash."""
    from bot.features.incidents.chain import entry_hash

    # Take the incident's row lock first (a no-op update): concurrent writers to one
    # timeline queue here, so each reads the true last hash and the chain never forks.
    await session.execute(
        update(Incident)
        .where(Incident.id == incident_id)
        .values(escalation_level=Incident.escalation_level)
        .execution_options(synchronize_session=False)
    )
    prev = await session.scalar(
        select(IncidentEvent.hash)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.id.desc())
        .limit(1)
    )
    event = IncidentEvent(
        incident_id=incident_id,
        at=at,
        author=author,
        kind=kind,
        text=text,
        source_event_id=source_event_id,
        prev_hash=prev,
    )
    event.hash = entry_hash(event)
    session.add(event)
    await session.flush()
    return event


async def chain(session: AsyncSession, *, incident_id: int) -> Sequence[IncidentEvent]:
    """The timeline in the order it was written (the hash chain's order)."""
    query = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.id)
    )
    return (await session.scalars(query)).all()


async def claim_ack(session: AsyncSession, *, number: int, by: str, now: datetime) -> bool:
    """Acknowledge ``number`` if nobody has (compare-and-set on ``acked_at``).

    Returns:
        Whether this call acknowledged it. Racing an escalation tick, exactly one of the
        two conditional updates wins the row; the loser changes nothing.
    """
    result = await session.execute(
        update(Incident)
        .where(Incident.id == number, Incident.acked_at.is_(None))
        .values(acked_at=now, acked_by=by)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def claim_escalation(session: AsyncSession, *, number: int, level: int) -> bool:
    """Move ``number`` from escalation ``level`` to ``level + 1`` if still unacknowledged.

    Compare-and-set on the level read and on ``acked_at``: an acknowledgement that
    landed after the job read the incident makes this a no-op.
    """
    result = await session.execute(
        update(Incident)
        .where(
            Incident.id == number,
            Incident.escalation_level == level,
            Incident.acked_at.is_(None),
            Incident.merged_into.is_(None),
            Incident.status.in_(OPEN_STATUSES),
        )
        .values(escalation_level=level + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


async def unacknowledged(session: AsyncSession) -> Sequence[Incident]:
    """Open incidents nobody has acknowledged (each must be within its window)."""
    query = (
        select(Incident)
        .where(Incident.acked_at.is_(None), Incident.merged_into.is_(None))
        .where(Incident.status.in_(OPEN_STATUSES))
        .order_by(Incident.id)
    )
    return (await session.scalars(query)).all()


async def timeline(session: AsyncSession, *, incident_id: int) -> Sequence[IncidentEvent]:
    query = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    )
    return (await session.scalars(query)).all()


async def has_event_from(session: AsyncSession, *, incident_id: int, source_event_id: str) -> bool:
    query = select(IncidentEvent.id).where(
        IncidentEvent.incident_id == incident_id,
        IncidentEvent.source_event_id == source_event_id,
    )
    return (await session.scalar(query)) is not None


# -- intakes --------------------------------------------------------------------------


async def get_intake(session: AsyncSession, *, user_id: str) -> IncidentIntake | None:
    return await session.get(IncidentIntake, user_id)


async def save_intake(
    session: AsyncSession,
    *,
    user_id: str,
    step: str,
    answers: dict[str, Any],
    now: datetime,
    expires_at: datetime,
    incident_id: int | None,
) -> IncidentIntake:
    """Create or update the reporter's intake (``incident_id``: the incident filed for it)."""
    intake = await session.get(IncidentIntake, user_id)
    if intake is None:
        intake = IncidentIntake(user_id=user_id, started_at=now)
        session.add(intake)
    intake.step = step
    intake.answers = dict(answers)  # a new dict, so the JSON change is noticed
    intake.expires_at = expires_at
    intake.incident_id = incident_id
    await session.flush()
    return intake


async def delete_intake(
    session: AsyncSession, *, user_id: str, expired_at: datetime | None = None
) -> bool:
    """Delete the reporter's intake (only if expired by ``expired_at``, when given).

    Returns:
        Whether this call deleted it: the expiry job and the reporter's next message may
        race for an expired intake, and only the one that deletes it records the expiry.
    """
    query = delete(IncidentIntake).where(IncidentIntake.user_id == user_id)
    if expired_at is not None:
        query = query.where(IncidentIntake.expires_at <= expired_at)
    result = await session.execute(query)
    return bool(result.rowcount)


async def expired_intakes_with_incident(
    session: AsyncSession, *, now: datetime
) -> Sequence[IncidentIntake]:
    """Expired intakes whose incident was already filed (the team must hear they ended)."""
    query = (
        select(IncidentIntake)
        .where(IncidentIntake.incident_id.is_not(None), IncidentIntake.expires_at <= now)
        .order_by(IncidentIntake.started_at)
    )
    return (await session.scalars(query)).all()


# -- triage-room posts and messages -------------------------------------------------


def post_subject(number: int) -> Subject:
    """What the incident's triage-room post is about (the messaging layer finds it by this)."""
    return Subject("incident", number, "post")


async def incident_for_event(session: AsyncSession, *, event_id: str) -> Incident | None:
    """The incident whose triage-room post is ``event_id``.

    The post's event id is only known once the outbox sent it; the messaging layer says
    what the sent message was about, and the id is copied onto the incident.
    """
    found = await session.scalar(select(Incident).where(Incident.triage_event_id == event_id))
    if found is not None:
        return found
    sent = await Messenger.subject_of(session, event_id)
    subject = sent.subject if sent is not None else None
    if subject is None or (subject.kind, subject.part) != ("incident", "post"):
        return None
    found = await session.get(Incident, subject.id)
    if found is not None and found.triage_event_id is None:
        found.triage_event_id = event_id
    return found


async def post_event_id(session: AsyncSession, *, incident: Incident) -> str | None:
    """The event id of the incident's triage post, once it has been sent."""
    if incident.triage_event_id is None and incident.triage_txn_id is not None:
        incident.triage_event_id = await Messenger.sent_event(session, post_subject(incident.id))
    return incident.triage_event_id


async def post_body(session: AsyncSession, *, incident: Incident) -> str | None:
    """The plain text of the incident's triage post (its preview survives housekeeping)."""
    if incident.triage_txn_id is None:
        return None
    sent = await Messenger.sent_by_key(session, incident.triage_txn_id)
    return sent.preview if sent is not None else None


async def get_message(session: AsyncSession, *, event_id: str) -> IncidentMessage | None:
    return await session.get(IncidentMessage, event_id)


async def add_message(
    session: AsyncSession, *, event_id: str, incident_id: int, sender: str, body: str, at: datetime
) -> None:
    if await session.get(IncidentMessage, event_id) is None:
        session.add(
            IncidentMessage(
                event_id=event_id, incident_id=incident_id, sender=sender, body=body, at=at
            )
        )
        await session.flush()
