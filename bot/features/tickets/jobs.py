"""Background work: nudge tickets left in "new", purge old text (retention)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.features.tickets import repository as repo
from bot.features.tickets import texts
from bot.features.tickets.claims import claim_nudge
from bot.features.tickets.models import TicketEvent
from bot.messaging import Message, Messenger, ToRoom, md
from bot.services import Services

log = logging.getLogger(__name__)


def _age(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


async def nudge_new_tickets(services: Services) -> int:
    """Nudge the triage room about tickets still "new": once per ``nudge_after`` interval.

    The k-th nudge of a ticket is due ``k * nudge_after`` after filing and is queued with
    the outbox key ``tickets:nudge:<id>:<k>``, so it goes out exactly once even if two
    runs overlap; after a long downtime only the latest due nudge is sent.

    Returns:
        How many nudges were queued.
    """
    interval = services.settings.tickets.nudge_after
    triage = services.rooms.triage
    if triage is None or interval.total_seconds() <= 0:
        return 0
    now = services.clock()
    prefix = services.settings.bot.command_prefix
    queued = 0
    async with services.db.sessions.begin() as session:
        for ticket in await repo.tickets_to_nudge(session, created_before=now - interval):
            age = now - ticket.created_at
            due = int(age / interval)
            if due <= ticket.nudges_sent:
                continue
            # Compare-and-set: a !claim (or another run) since the read above wins.
            if not await claim_nudge(
                session, ticket_id=ticket.id, seen=ticket.nudges_sent, due=due
            ):
                continue
            text = (
                f"Reminder: {ticket.ref} ({texts.KIND_LABELS.get(ticket.kind, ticket.kind)}) "
                f"has been waiting in 'new' for {_age(age)}. `{{prefix}}claim {ticket.ref}` to "
                "take it."
            )
            reminder = Message(
                md.with_prefix(text, prefix),
                to=ToRoom(triage),
                key=f"tickets:nudge:{ticket.id}:{due}",
            )
            await Messenger.post(session, reminder)
            session.add(
                TicketEvent(
                    ticket_id=ticket.id, at=now, actor="bot", action="nudged", detail=f"#{due}"
                )
            )
            log.info("ticket %s nudged (#%d)", ticket.ref, due)
            queued += 1
    if queued:
        services.outbox.wake()
    return queued


async def purge_old_text(services: Services, now: datetime | None = None) -> int:
    """Erase the text of tickets closed more than ``retention_days`` ago (keep the rest).

    Returns:
        How many tickets were purged.
    """
    days = services.settings.tickets.retention_days
    if days is None:
        return 0
    now = now or services.clock()
    purged = 0
    async with services.db.sessions.begin() as session:
        for ticket in await repo.tickets_to_purge(
            session, closed_before=now - timedelta(days=days)
        ):
            ticket.text = None
            ticket.purged_at = now
            # Nothing that leads back to the reporter outlives the text.
            ticket.reporter_route = ticket.reporter_room_id = ticket.reporter_dm_txn = None
            await repo.forget_messages(session, ticket_id=ticket.id)
            for comment in await repo.comments(session, ticket_id=ticket.id):
                comment.text = None
            session.add(
                TicketEvent(
                    ticket_id=ticket.id, at=now, actor="bot", action="purged", detail="retention"
                )
            )
            log.info("ticket %s text purged (retention %d days)", ticket.ref, days)
            purged += 1
    return purged


async def run_jobs(services: Services) -> None:
    """One pass of the periodic job."""
    await nudge_new_tickets(services)
    await purge_old_text(services)
