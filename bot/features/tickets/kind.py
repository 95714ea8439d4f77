"""Tickets as a triage case kind (``T-<n>``) plus the ticket-only team actions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.arguments import parse_args
from bot.commands.context import CommandContext, Reply
from bot.commands.errors import UsageError, UserError
from bot.commands.registry import Arg, ArgKind
from bot.features.tickets import repository as repo
from bot.features.tickets import service, texts, views
from bot.features.tickets.models import Ticket
from bot.features.tickets.owner_hint import owner_pointer
from bot.features.tickets.parsing import parse_state
from bot.ids import TICKET, CaseRef

_RESOLUTIONS = {
    "answered": "answered",
    "fixed": "fixed",
    "duplicate": "duplicate",
    "dup": "duplicate",
    "not a security matter": "not_security",
    "not-a-security-matter": "not_security",
    "not_a_security_matter": "not_security",
    "not security": "not_security",
    "not-security": "not_security",
    "not_security": "not_security",
    "no response": "no_response",
    "no-response": "no_response",
    "no_response": "no_response",
}


def act_of(ctx: CommandContext) -> service.Act:
    """The service's view of a command: who acts, when, the event, the messages it queues."""
    return service.Act(
        ctx.session, ctx.services, ctx.sender, ctx.now, ctx.message.event_id, ctx.outbound
    )


def parse_ref(ref: str) -> int:
    """``T-12``, ``t12``, ``#12`` or ``12`` → 12 (tickets-only commands)."""
    number = CaseRef.parse_as(ref, TICKET)
    if number is None:
        raise UsageError(f"{ref!r} is not a ticket id like T-12.")
    return number


def is_ticket_ref(ref: str) -> bool:
    """Whether ``ref`` reads as a ticket id (else it may be a claim code)."""
    return CaseRef.parse_as(ref, TICKET) is not None


# ``!close T-N duplicate [of] T-M [text for the reporter]``: what follows "duplicate".
DUPLICATE_OF = (Arg("original"), Arg("text", ArgKind.TEXT, optional=True))


def parse_resolution(words: str) -> tuple[str, str]:
    """The resolution named at the start of ``words`` and the rest of the text."""
    low = words.lower()
    for phrase in sorted(_RESOLUTIONS, key=len, reverse=True):
        if low == phrase or low.startswith(phrase + " "):
            return _RESOLUTIONS[phrase], words[len(phrase) :].strip()
    names = ", ".join(texts.RESOLUTION_LABELS.values())
    raise UsageError(f"Give a resolution: {names}.")


class TicketKind:
    """The :class:`bot.features.triage.CaseKind` of tickets."""

    prefix = "T"
    label = "ticket"

    async def exists(self, session: AsyncSession, number: int) -> bool:
        return await repo.get_ticket(session, number=number) is not None

    async def _open(self, ctx: CommandContext, number: int) -> Ticket:
        service.require_private_room(ctx.message.room_kind)
        return await service.load(ctx.session, number)

    async def show(self, ctx: CommandContext, number: int) -> Reply:
        ticket = await self._open(ctx, number)
        comments = await repo.comments(ctx.session, ticket_id=ticket.id)
        events = await repo.events(ctx.session, ticket_id=ticket.id)
        return views.team_view(ticket, comments, events)

    async def assign(self, ctx: CommandContext, number: int, user_id: str) -> Reply:
        ticket = await self._open(ctx, number)
        if user_id not in ctx.services.security_team():
            raise UserError(f"{user_id} is not in the security team; tickets stay with the team.")
        ticket.assignee = user_id
        await service.audit(act_of(ctx), ticket, "assigned", user_id)
        if ticket.state == "new":
            await service.change_state(act_of(ctx), ticket, "triaged")
        return Reply(f"{ticket.ref} is now assigned to {user_id}.", mentions=(user_id,))

    async def claim(self, ctx: CommandContext, number: int) -> Reply:
        ticket = await self._open(ctx, number)
        if ticket.state == "closed":
            raise UserError(f"{ticket.ref} is closed; `{{prefix}}reopen` it first.", markdown=True)
        ticket.assignee = ctx.sender
        await service.audit(act_of(ctx), ticket, "claimed", ctx.sender)
        if ticket.state in ("new", "triaged"):
            await service.change_state(act_of(ctx), ticket, "in_progress")
        return Reply(f"{ticket.ref} is yours, {ctx.sender}. State: {texts.state_label(ticket)}.")

    async def set_status(self, ctx: CommandContext, number: int, state: str, rest: str) -> Reply:
        ticket = await self._open(ctx, number)
        new_state = parse_state(f"{state} {rest}".strip())
        if new_state == "closed":
            p = ctx.services.settings.bot.command_prefix
            raise UserError(f"To close, say why: {p}close {ticket.ref} <resolution> [text].")
        if ticket.state == new_state:
            return Reply(f"{ticket.ref} is already {texts.state_label(ticket)}.")
        await service.change_state(act_of(ctx), ticket, new_state)
        return Reply(f"{ticket.ref} is now {texts.state_label(ticket)}; the reporter was told.")

    async def note(self, ctx: CommandContext, number: int, text: str) -> Reply:
        ticket = await self._open(ctx, number)
        await service.add_comment(act_of(ctx), ticket, text, kind="note", author=ctx.sender)
        return Reply(f"Internal note added to {ticket.ref} (not shown to the reporter).")

    async def reply(self, ctx: CommandContext, number: int, text: str) -> Reply:
        ticket = await self._open(ctx, number)
        if ticket.purged_at is not None:
            raise UserError(f"{ticket.ref} was purged; its reporter can no longer be reached.")
        await service.add_comment(act_of(ctx), ticket, text, kind="reply", author=ctx.sender)
        p = ctx.services.settings.bot.command_prefix
        if not service.has_route(ticket):
            return Reply(
                f"Saved on {ticket.ref}. It was filed without follow-up: I can't write to the "
                "reporter, who reads your reply with their claim code."
            )
        await service.send_to_reporter(
            act_of(ctx),
            ticket,
            f"Reply from the security team ({ctx.sender}) on your ticket {ticket.ref}:\n\n"
            f"{text}\n\nTo answer, reply to this message or send {p}comment {ticket.ref} <text>.",
        )
        return Reply(f"Sent to the reporter of {ticket.ref}.")

    async def close(self, ctx: CommandContext, number: int, args: str) -> Reply:
        ticket = await self._open(ctx, number)
        if ticket.state == "closed":
            return Reply(f"{ticket.ref} is already closed ({texts.resolution_label(ticket)}).")
        resolution, rest = parse_resolution(args)
        p = ctx.services.settings.bot.command_prefix
        why = rest
        if resolution == "duplicate":
            of = rest.removeprefix("of ").strip()
            if not of:
                raise UsageError(f"Duplicate of which ticket? {p}close {ticket.ref} duplicate T-N")
            duplicate = parse_args(DUPLICATE_OF, of, p)
            ticket.duplicate_of, rest = parse_ref(duplicate["original"]), duplicate["text"] or ""
            if ticket.duplicate_of == ticket.id or not await self.exists(
                ctx.session, ticket.duplicate_of
            ):
                raise UserError(
                    f"{CaseRef.ticket(ticket.duplicate_of)} can't be the original of {ticket.ref}."
                )
            why = rest.strip()
        elif resolution == "not_security":
            ownership = ctx.services.settings.ownership
            pointer = await owner_pointer(ctx.session, ownership, ticket, rest) or (
                "This isn't something the security team owns. To find who does, ask "
                f"{p}owner <thing> in the helpdesk room."
            )
            why = f"{pointer}\n{rest}" if rest else pointer
        ticket.resolution = resolution
        await service.audit(act_of(ctx), ticket, "resolution", texts.resolution_label(ticket))
        await service.change_state(act_of(ctx), ticket, "closed", why)
        return Reply(f"{ticket.ref} closed: {texts.resolution_label(ticket)}. Reporter told.")

    async def reopen(self, ctx: CommandContext, number: int) -> Reply:
        ticket = await self._open(ctx, number)
        if ticket.state not in ("resolved", "closed"):
            return Reply(f"{ticket.ref} is open ({texts.state_label(ticket)}).")
        await service.change_state(
            act_of(ctx), ticket, "in_progress" if ticket.assignee else "triaged"
        )
        return Reply(f"{ticket.ref} reopened: {texts.state_label(ticket)}.")
