"""Database access for tickets: keyword-only, session passed in, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tickets.models import Ticket, TicketComment, TicketEvent, TicketMessage


async def add_ticket(session: AsyncSession, *, ticket: Ticket) -> Ticket:
    """Insert ``ticket`` and flush so its number is known."""
    session.add(ticket)
    await session.flush()
    return ticket


async def get_ticket(session: AsyncSession, *, number: int) -> Ticket | None:
    return await session.get(Ticket, number)


async def list_tickets(
    session: AsyncSession,
    *,
    states: Sequence[str] | None = None,
    exclude_states: Sequence[str] = (),
    assignee: str | None = None,
    limit: int = 50,
) -> list[Ticket]:
    """Tickets, oldest first, filtered by state and assignee."""
    query = select(Ticket).order_by(Ticket.id)
    if states is not None:
        query = query.where(Ticket.state.in_(states))
    if exclude_states:
        query = query.where(Ticket.state.not_in(exclude_states))
    if assignee is not None:
        query = query.where(Ticket.assignee == assignee)
    return list(await session.scalars(query.limit(limit)))


async def reporter_tickets(
    session: AsyncSession, *, user_id: str, user_hash: str, limit: int = 50
) -> list[Ticket]:
    """A reporter's own tickets: by user id, or by keyed hash for anonymous ones."""
    query = (
        select(Ticket)
        .where(or_(Ticket.reporter_id == user_id, Ticket.reporter_hash == user_hash))
        .order_by(Ticket.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def add_comment(session: AsyncSession, *, comment: TicketComment) -> None:
    session.add(comment)


async def comments(session: AsyncSession, *, ticket_id: int) -> list[TicketComment]:
    query = (
        select(TicketComment).where(TicketComment.ticket_id == ticket_id).order_by(TicketComment.id)
    )
    return list(await session.scalars(query))


async def add_event(session: AsyncSession, *, event: TicketEvent) -> None:
    session.add(event)


async def events(session: AsyncSession, *, ticket_id: int) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    return list(await session.scalars(query))


async def remember_message(session: AsyncSession, *, txn_id: str, ticket_id: int) -> None:
    """Record that the bot's message ``txn_id`` is about ticket ``ticket_id``."""
    if await session.get(TicketMessage, txn_id) is None:
        session.add(TicketMessage(txn_id=txn_id, ticket_id=ticket_id))


async def ticket_for_message(session: AsyncSession, *, names: Sequence[str]) -> Ticket | None:
    """The ticket a bot message was about, by any of its names in ``ticket_messages``."""
    query = (
        select(Ticket)
        .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
        .where(TicketMessage.txn_id.in_(list(names)))
    )
    return (await session.scalars(query.limit(1))).first()


async def forget_messages(session: AsyncSession, *, ticket_id: int) -> None:
    """Drop the record of the bot's messages about a ticket (retention, forget me)."""
    await session.execute(delete(TicketMessage).where(TicketMessage.ticket_id == ticket_id))


async def ticket_by_hash(session: AsyncSession, *, value: str) -> Ticket | None:
    return (await session.scalars(select(Ticket).where(Ticket.reporter_hash == value))).first()


async def tickets_to_nudge(session: AsyncSession, *, created_before: datetime) -> list[Ticket]:
    query = (
        select(Ticket)
        .where(Ticket.state == "new", Ticket.created_at <= created_before)
        .order_by(Ticket.id)
    )
    return list(await session.scalars(query))


async def tickets_to_purge(session: AsyncSession, *, closed_before: datetime) -> list[Ticket]:
    query = select(Ticket).where(
        Ticket.state == "closed",
        Ticket.closed_at <= closed_before,
        Ticket.purged_at.is_(None),
    )
    return list(await session.scalars(query))
