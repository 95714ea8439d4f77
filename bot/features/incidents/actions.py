"""The team's actions on one incident, for the chat commands and the web board alike.

Each takes an :class:`~bot.features.act.Act` (who, when, which event; the messages it
queues) and the incident's number, records the change in the timeline and answers with
the :class:`Reply` the chat command gives. Where they may be asked is the caller's rule
(the triage room or a DM for chat; the web board is for the security team).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Outbound, Reply
from bot.commands.errors import UsageError, UserError
from bot.features.act import Act
from bot.features.incidents import reporter, service
from bot.features.incidents import repository as repo
from bot.features.incidents.models import SEVERITIES, STATUSES, Incident
from bot.features.incidents.service import ref
from bot.messaging import md

GIVE_INCIDENT = "Give an incident id like INC-12."
GIVE_SEVERITY = "Give an incident id and low, medium, high or critical."
GIVE_UPDATE = "Give an incident id and the update."


async def load(session: AsyncSession, number: int) -> Incident:
    incident = await repo.get_incident(session, number=number)
    if incident is None:
        raise UserError(f"There is no incident {ref(number)}.")
    return incident


async def assign(act: Act, number: int, user_id: str) -> Reply:
    """Give the incident to ``user_id`` (told by DM unless they assigned themselves)."""
    incident = await load(act.session, number)
    incident.assignee = user_id
    await repo.add_event(
        act.session,
        incident_id=number,
        at=act.now,
        author=act.by,
        kind="assigned",
        text=f"Assigned to {user_id}",
    )
    if user_id != act.by:
        act.send(
            Outbound(
                f"You have been assigned incident {ref(number)} "
                f"({md.escape(incident.type_name)}) by {md.mention(act.by)}. See it "
                f"with `{{prefix}}show {ref(number)}` in the triage room.",
                dm_user_id=user_id,
            )
        )
    return Reply(f"{ref(number)} is assigned to {md.escape(user_id)}.")


async def set_status(act: Act, number: int, state: str, rest: str) -> Reply:
    """Move the incident to ``state`` (acknowledging it first if nobody had)."""
    if state not in STATUSES:
        raise UsageError(
            f"Unknown state {md.escape(repr(state))}; use one of: {', '.join(STATUSES)}."
        )
    incident = await load(act.session, number)
    old = incident.status
    if state != "reported" and incident.acked_at is None:
        if await service.acknowledge(act.session, incident, by=act.by, now=act.now):
            await reporter.tell_acknowledged(act.services, act.session, incident, act.by)
    incident.status = state
    incident.last_update_at = act.now
    text = f"Status {old} → {state}" + (f": {rest}" if rest else "")
    await repo.add_event(
        act.session, incident_id=number, at=act.now, author=act.by, kind="status", text=text
    )
    if state != old:
        await reporter.tell_state(act.services, act.session, incident, state)
    return Reply(f"{ref(number)} is now {state}.")


async def note(act: Act, number: int, text: str) -> Reply:
    """An internal note in the timeline (never shown to the reporter)."""
    await load(act.session, number)
    await repo.add_event(
        act.session, incident_id=number, at=act.now, author=act.by, kind="note", text=text
    )
    return Reply.reaction()


async def acknowledge(act: Act, number: int) -> Reply:
    """Stop the escalation; the reporter hears it."""
    incident = await load(act.session, number)
    if not await service.acknowledge(act.session, incident, by=act.by, now=act.now):
        return Reply(
            f"{ref(number)} was already acknowledged by {md.escape(incident.acked_by or '')}."
        )
    await reporter.tell_acknowledged(act.services, act.session, incident, act.by)
    return Reply(f"{ref(number)} acknowledged by {md.escape(act.by)}; escalation stopped.")


async def set_severity(act: Act, number: int, level: str) -> Reply:
    """``level``: low, medium, high or critical (any case); may page the on-call."""
    level = level.lower()
    if level not in SEVERITIES:
        raise UsageError(GIVE_SEVERITY)
    incident = await load(act.session, number)
    paged = await service.set_severity(
        act.services, act.session, incident, level, by=act.by, now=act.now
    )
    extra = f"; paged {md.escape(', '.join(paged))}" if paged else ""
    return Reply(f"{ref(number)} severity is {incident.severity}{extra}.")


async def update(act: Act, number: int, text: str) -> Reply:
    """Send the reporter an update, kept in the timeline."""
    incident = await load(act.session, number)
    incident.last_update_at = act.now
    await repo.add_event(
        act.session, incident_id=number, at=act.now, author=act.by, kind="update", text=text
    )
    act.send(
        Outbound(
            f"Update on your report **{ref(number)}** from the security team:\n{md.escape(text)}",
            dm_user_id=incident.reporter,
        )
    )
    return Reply(
        f"Sent to {md.escape(incident.reporter)} and added to the timeline of {ref(number)}."
    )
