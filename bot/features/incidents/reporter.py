"""The reporter hears back: acknowledged, contained, resolved, closed — and ``!status``.

Each message is one short DM to every reporter of the incident (its own and those of
duplicates merged into it), queued once under ``incident:<n>:tell:<what>:<user>``. They
never carry internal notes: only the state and, for the acknowledgement, who is on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents.models import Incident
from bot.features.incidents.service import post, ref
from bot.messaging.md import escape
from bot.services import Services

TOLD_STATES = ("contained", "resolved", "closed")
STATE_TEXT = {
    "contained": "is contained: the immediate danger is under control; the team is still "
    "working on it.",
    "resolved": "is resolved: the team has fixed what went wrong.",
    "closed": "is closed. Thank you for reporting it — it made a difference.",
}


async def merged_into(session: AsyncSession, number: int) -> list[Incident]:
    """Incidents merged into ``number``, directly or through other merges."""
    found: list[Incident] = []
    frontier = [number]
    while frontier:
        rows = (
            await session.scalars(select(Incident).where(Incident.merged_into.in_(frontier)))
        ).all()
        rows = [r for r in rows if r.id not in {f.id for f in found} and r.id != number]
        found += rows
        frontier = [r.id for r in rows]
    return found


async def reporters_of(session: AsyncSession, incident: Incident) -> list[tuple[str, int]]:
    """(reporter, their incident number) for the incident and every duplicate merged in."""
    out = [(incident.reporter, incident.id)]
    for dup in await merged_into(session, incident.id):
        if all(user != dup.reporter for user, _ in out):
            out.append((dup.reporter, dup.id))
    return out


async def tell(
    services: Services, session: AsyncSession, incident: Incident, what: str, body: str
) -> int:
    """DM ``body`` (about ``incident``) to each of its reporters, once per ``what``.

    Returns:
        How many reporters were told.
    """
    told = 0
    for user, own in await reporters_of(session, incident):
        if user == services.bot_user_id:
            continue
        mine = (
            f"Your report {ref(own)} (merged into {ref(incident.id)}) "
            if own != incident.id
            else f"Your report {ref(incident.id)} "
        )
        text = mine + body
        await post(
            services,
            session,
            f"incident:{incident.id}:tell:{what}:{user}",
            escape(text),
            dm_user_id=user,
        )
        told += 1
    services.outbox.wake()
    return told


async def tell_acknowledged(
    services: Services, session: AsyncSession, incident: Incident, by: str
) -> None:
    await tell(services, session, incident, "ack", f"is acknowledged — a person is on it: {by}.")


async def tell_state(
    services: Services, session: AsyncSession, incident: Incident, state: str
) -> None:
    """Tell the reporters about a new state, if it is one they hear about."""
    if state in TOLD_STATES:
        await tell(services, session, incident, state, STATE_TEXT[state])


def status_text(incident: Incident, target: Incident | None, now: datetime) -> str:
    """The reporter's view of their incident (Markdown): state and whether a person is on it."""
    n = ref(incident.id)
    if target is not None and target.id != incident.id:
        return (
            f"{n} was merged into {ref(target.id)} (the same incident, reported by others "
            f"too). It is {target.status}"
            + (f"; {escape(target.acked_by)} is on it." if target.acked_by else ".")
            + " You will hear the outcome when it closes."
        )
    on_it = (
        f" {escape(incident.acked_by)} is on it."
        if incident.acked_by
        else " Nobody has picked it up yet; the team is being alerted."
    )
    when = f"{incident.created_at:%Y-%m-%d %H:%M} UTC"
    return f"{n} ({escape(incident.type_name)}), reported {when}, is {incident.status}.{on_it}"


async def final_target(session: AsyncSession, incident: Incident) -> Incident:
    """The incident a duplicate was (eventually) merged into; itself if not merged."""
    seen = {incident.id}
    while incident.merged_into is not None and incident.merged_into not in seen:
        nxt = await repo.get_incident(session, number=incident.merged_into)
        if nxt is None:
            break
        seen.add(nxt.id)
        incident = nxt
    return incident
