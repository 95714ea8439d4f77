"""Conditional updates for the tickets' background jobs (compare-and-set on what they read).

A job reads a ticket, decides, then writes. A person acting on the ticket in between (a
``!claim`` that takes it out of "new") must win: the write only happens if the row
still holds what the job read.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tickets.models import Ticket


async def claim_nudge(session: AsyncSession, *, ticket_id: int, seen: int, due: int) -> bool:
    """Record nudge ``due`` if the ticket is still "new" with ``seen`` nudges sent.

    Returns:
        Whether this call may send the nudge (False: claimed or nudged since the read).
    """
    result = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.state == "new", Ticket.nudges_sent == seen)
        .values(nudges_sent=due)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)
