"""The team's actions on one ticket, for the chat commands and the web board alike.

Each takes an :class:`~bot.features.act.Act` (who, when, which event; the messages it
queues) and the ticket's number, audits the change, tells the reporter when the state
moves, and answers with the :class:`Reply` the chat command gives. Where they may be
asked is the caller's rule (the triage room or a DM for chat; the board is for the team).
"""

from __future__ import annotations

from bot.commands.arguments import parse_args
from bot.commands.context import Reply
from bot.commands.errors import UsageError, UserError
from bot.features.act import Act
from bot.features.tickets import repository as repo
from bot.features.tickets import service, texts
from bot.features.tickets.models import Ticket
from bot.features.tickets.owner_hint import owner_pointer
from bot.features.tickets.parsing import DUPLICATE_OF, parse_ref, parse_resolution, parse_state
from bot.ids import CaseRef
from bot.messaging import md

GIVE_TEXT = "Give a ticket id and the text for the reporter."
GIVE_WHY = "Give a ticket id and a resolution."


async def assign(act: Act, number: int, user_id: str) -> Reply:
    ticket = await service.load(act.session, number)
    if user_id not in act.services.security_team():
        raise UserError(
            f"{md.escape(user_id)} is not in the security team; tickets stay with the team."
        )
    ticket.assignee = user_id
    await service.audit(act, ticket, "assigned", user_id)
    if ticket.state == "new":
        await service.change_state(act, ticket, "triaged")
    return Reply(f"{ticket.ref} is now assigned to {md.escape(user_id)}.", mentions=(user_id,))


async def claim(act: Act, number: int) -> Reply:
    ticket = await service.load(act.session, number)
    if ticket.state == "closed":
        raise UserError(f"{ticket.ref} is closed; `{{prefix}}reopen` it first.")
    ticket.assignee = act.by
    await service.audit(act, ticket, "claimed", act.by)
    if ticket.state in ("new", "triaged"):
        await service.change_state(act, ticket, "in_progress")
    return Reply(f"{ticket.ref} is yours, {md.escape(act.by)}. State: {texts.state_label(ticket)}.")


async def set_status(act: Act, number: int, state: str, rest: str) -> Reply:
    ticket = await service.load(act.session, number)
    new_state = parse_state(f"{state} {rest}".strip())
    if new_state == "closed":
        p = act.services.settings.bot.command_prefix
        raise UserError(f"To close, say why: `{p}close {ticket.ref} <resolution> [text]`.")
    if ticket.state == new_state:
        return Reply(f"{ticket.ref} is already {texts.state_label(ticket)}.")
    await service.change_state(act, ticket, new_state)
    return Reply(f"{ticket.ref} is now {texts.state_label(ticket)}; the reporter was told.")


async def note(act: Act, number: int, text: str) -> Reply:
    ticket = await service.load(act.session, number)
    await service.add_comment(act, ticket, text, kind="note", author=act.by)
    return Reply(f"Internal note added to {ticket.ref} (not shown to the reporter).")


async def reply(act: Act, number: int, text: str) -> Reply:
    ticket = await service.load(act.session, number)
    if ticket.purged_at is not None:
        raise UserError(f"{ticket.ref} was purged; its reporter can no longer be reached.")
    await service.add_comment(act, ticket, text, kind="reply", author=act.by)
    p = act.services.settings.bot.command_prefix
    if not service.has_route(ticket):
        return Reply(
            f"Saved on {ticket.ref}. It was filed without follow-up: I can't write to the "
            "reporter, who reads your reply with their claim code."
        )
    await service.send_to_reporter(
        act,
        ticket,
        f"Reply from the security team ({md.escape(act.by)}) on your ticket {ticket.ref}:\n\n"
        f"{md.escape(text)}\n\n"
        f"To answer, reply to this message or send `{p}comment {ticket.ref} <text>`.",
    )
    return Reply(f"Sent to the reporter of {ticket.ref}.")


async def close(act: Act, number: int, args: str) -> Reply:
    """``args``: the resolution, then the text for the reporter (``duplicate T-N ...``)."""
    ticket = await service.load(act.session, number)
    if ticket.state == "closed":
        return Reply(f"{ticket.ref} is already closed ({texts.resolution_label(ticket)}).")
    resolution, rest = parse_resolution(args)
    why = md.escape(rest)
    if resolution == "duplicate":
        why = md.escape(await _duplicate(act, ticket, rest))
    elif resolution == "not_security":
        p = act.services.settings.bot.command_prefix
        ownership = act.services.settings.ownership
        pointer = await owner_pointer(act.session, ownership, ticket, rest)
        pointer = (
            md.escape(pointer)
            if pointer
            else (
                "This isn't something the security team owns. To find who does, ask "
                f"`{p}owner <thing>` in the helpdesk room."
            )
        )
        why = f"{pointer}\n{md.escape(rest)}" if rest else pointer
    ticket.resolution = resolution
    await service.audit(act, ticket, "resolution", texts.resolution_label(ticket))
    await service.change_state(act, ticket, "closed", why)
    return Reply(f"{ticket.ref} closed: {texts.resolution_label(ticket)}. Reporter told.")


async def _duplicate(act: Act, ticket: Ticket, rest: str) -> str:
    """Mark ``ticket`` a duplicate of the ticket ``rest`` starts with; the rest of the text."""
    p = act.services.settings.bot.command_prefix
    of = rest.removeprefix("of ").strip()
    if not of:
        raise UsageError(f"Duplicate of which ticket? `{p}close {ticket.ref} duplicate T-N`")
    duplicate = parse_args(DUPLICATE_OF, of, p)
    ticket.duplicate_of, rest = parse_ref(duplicate["original"]), duplicate["text"] or ""
    if (
        ticket.duplicate_of == ticket.id
        or await repo.get_ticket(act.session, number=ticket.duplicate_of) is None
    ):
        raise UserError(
            f"{CaseRef.ticket(ticket.duplicate_of)} can't be the original of {ticket.ref}."
        )
    return rest.strip()


async def reopen(act: Act, number: int) -> Reply:
    ticket = await service.load(act.session, number)
    if ticket.state not in ("resolved", "closed"):
        return Reply(f"{ticket.ref} is open ({texts.state_label(ticket)}).")
    await service.change_state(act, ticket, "in_progress" if ticket.assignee else "triaged")
    return Reply(f"{ticket.ref} reopened: {texts.state_label(ticket)}.")
