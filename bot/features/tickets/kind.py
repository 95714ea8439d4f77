"""Tickets as a triage case kind (``T-<n>``) plus the ticket-only team actions.

The actions themselves are :mod:`bot.features.tickets.actions` (shared with the web
board); here each is asked from chat, in the triage room or a DM only.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import CommandContext, Reply
from bot.features.act import act_of
from bot.features.tickets import actions, service, views
from bot.features.tickets import repository as repo


class TicketKind:
    """The :class:`bot.features.triage.CaseKind` of tickets."""

    prefix = "T"
    label = "ticket"

    async def exists(self, session: AsyncSession, number: int) -> bool:
        return await repo.get_ticket(session, number=number) is not None

    async def show(self, ctx: CommandContext, number: int) -> Reply:
        service.require_private_room(ctx.message.room_kind)
        ticket = await service.load(ctx.session, number)
        comments = await repo.comments(ctx.session, ticket_id=ticket.id)
        events = await repo.events(ctx.session, ticket_id=ticket.id)
        return views.team_view(ticket, comments, events)

    async def assign(self, ctx: CommandContext, number: int, user_id: str) -> Reply:
        service.require_private_room(ctx.message.room_kind)
        return await actions.assign(act_of(ctx), number, user_id)

    async def claim(self, ctx: CommandContext, number: int) -> Reply:
        service.require_private_room(ctx.message.room_kind)
        return await actions.claim(act_of(ctx), number)

    async def set_status(self, ctx: CommandContext, number: int, state: str, rest: str) -> Reply:
        service.require_private_room(ctx.message.room_kind)
        return await actions.set_status(act_of(ctx), number, state, rest)

    async def note(self, ctx: CommandContext, number: int, text: str) -> Reply:
        service.require_private_room(ctx.message.room_kind)
        return await actions.note(act_of(ctx), number, text)

    async def reply(self, ctx: CommandContext, number: int, text: str) -> Reply:
        service.require_private_room(ctx.message.room_kind)
        return await actions.reply(act_of(ctx), number, text)

    async def close(self, ctx: CommandContext, number: int, args: str) -> Reply:
        service.require_private_room(ctx.message.room_kind)
        return await actions.close(act_of(ctx), number, args)

    async def reopen(self, ctx: CommandContext, number: int) -> Reply:
        service.require_private_room(ctx.message.room_kind)
        return await actions.reopen(act_of(ctx), number)
