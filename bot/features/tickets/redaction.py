"""A deleted (redacted) message: its text is erased from the tickets, and the fact noted."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Redaction
from bot.features.tickets.anonymity import keyed
from bot.features.tickets.models import Ticket, TicketComment, TicketEvent
from bot.outbox import to_the_hour
from bot.services import Services

log = logging.getLogger(__name__)
NOTE = "the message was deleted in Matrix; its text was erased here too"


def source_hash(services: Services, event_id: str) -> str:
    """How a ticket or comment names the message its text came from (keyed: no link)."""
    return keyed(services, "event", event_id)


async def on_redaction(redaction: Redaction, session: AsyncSession, services: Services) -> None:
    """Erase the text that came from event ``redacts``; note it on the ticket's history."""
    redacts = redaction.redacts
    wanted = source_hash(services, redacts)
    now = services.clock()
    touched: list[Ticket] = []
    for ticket in await session.scalars(select(Ticket).where(Ticket.source_hash == wanted)):
        ticket.text, ticket.source_hash = None, None
        touched.append(ticket)
    comments = await session.scalars(
        select(TicketComment).where(TicketComment.source_hash == wanted)
    )
    for comment in comments:
        comment.text, comment.source_hash = None, None
        ticket = await session.get(Ticket, comment.ticket_id)
        if ticket is not None:
            touched.append(ticket)
    for ticket in touched:
        at = to_the_hour(now) if ticket.anonymous else now
        session.add(
            TicketEvent(ticket_id=ticket.id, at=at, actor="bot", action="redacted", detail=NOTE)
        )
        log.info("ticket %s: text of a redacted message erased", ticket.ref)
