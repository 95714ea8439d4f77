"""Commands of the tickets feature; the shared triage verbs come from bot.features.triage."""

from __future__ import annotations

from dataclasses import replace

from bot.commands.context import CommandContext, Reply, RoomKind
from bot.commands.errors import UserError
from bot.commands.registry import IGNORED, Arg, ArgKind
from bot.commands.router import Permission, Router
from bot.features.act import act_of
from bot.features.tickets import actions, filing, redaction, service, texts, views
from bot.features.tickets import repository as repo
from bot.features.tickets.anonymity import claim_hash, message_key, reporter_hash
from bot.features.tickets.kind import TicketKind
from bot.features.tickets.models import Ticket
from bot.features.tickets.parsing import is_ticket_ref, parse_ref, strip_reply_fallback
from bot.messaging import Messenger, md

GROUP = "Tickets"
_FILTERS = ("new", "open", "mine", "all")
GIVE_COMMENT = "Give your ticket id and the text."


def register(router: Router, kind: TicketKind) -> None:
    """Add the ticket commands and the DM-reply interceptor to ``router``."""
    team = Permission.SECURITY_TEAM

    @router.command(
        "ticket",
        summary="Ask the security team for help, privately (no judgement)",
        usage="ticket [#tag] [assessment] [anonymous] <your question>",
        group=GROUP,
    )
    async def ticket(ctx: CommandContext) -> Reply:
        return await filing.file_ticket(
            act_of(ctx), ctx.args, room_id=ctx.message.room_id, room_kind=ctx.message.room_kind
        )

    router.command(
        "mytickets",
        summary="Your own tickets and their states (or one in full, or by claim code)",
        usage="mytickets [T-N|claim code]",
        group=GROUP,
        # A claim code may be typed with spaces: the whole text is read when it is one.
        args=(Arg("ticket", optional=True),),
        extra=IGNORED,
    )(mytickets)

    router.command(
        "comment",
        summary="Add details to your own ticket",
        usage="comment T-N <text>",
        group=GROUP,
        args=(Arg("ticket", missing=GIVE_COMMENT), Arg("text", ArgKind.TEXT, missing=GIVE_COMMENT)),
    )(comment)

    router.command(
        "tickets",
        summary="List tickets: new, open (default), mine or all",
        usage="tickets [new|open|mine|all]",
        permission=team,
        group=GROUP,
        args=(Arg("which", optional=True, choices=_FILTERS),),  # "Choose one of: ..."
        extra=IGNORED,
    )(tickets)

    _register_team_actions(router, kind)
    router.intercept("tickets:dm-reply", dm_reply)
    router.on_redaction(redaction.on_redaction)


def _register_team_actions(router: Router, kind: TicketKind) -> None:
    """The security team's actions on one ticket: claim, reply, close, reopen."""
    team = Permission.SECURITY_TEAM
    which = Arg("ticket", missing="Which ticket?")
    router.command(
        "claim", summary="Take a ticket", usage="claim T-N", permission=team, group=GROUP,
        args=(which,),
    )(lambda ctx: kind.claim(ctx, parse_ref(ctx.params["ticket"])))  # fmt: skip
    give_text = actions.GIVE_TEXT
    router.command(
        "reply", summary="Answer the reporter (relayed by DM)", usage="reply T-N <text>",
        permission=team, group=GROUP,
        args=(replace(which, missing=give_text), Arg("text", ArgKind.TEXT, missing=give_text)),
    )(lambda ctx: kind.reply(ctx, parse_ref(ctx.params["ticket"]), ctx.params["text"]))  # fmt: skip
    give_why = actions.GIVE_WHY
    router.command(
        "close",
        summary="Close a ticket: answered, fixed, duplicate T-N, not-security, no-response",
        usage="close T-N <resolution> [text for the reporter]", permission=team, group=GROUP,
        args=(replace(which, missing=give_why), Arg("why", ArgKind.TEXT, missing=give_why)),
    )(lambda ctx: kind.close(ctx, parse_ref(ctx.params["ticket"]), ctx.params["why"]))  # fmt: skip
    router.command(
        "reopen", summary="Reopen a ticket", usage="reopen T-N", permission=team, group=GROUP,
        args=(which,),
    )(lambda ctx: kind.reopen(ctx, parse_ref(ctx.params["ticket"])))  # fmt: skip


async def _own_tickets(ctx: CommandContext) -> list[Ticket]:
    user_hash = await reporter_hash(ctx.session, ctx.services, ctx.sender)
    return await repo.reporter_tickets(ctx.session, user_id=ctx.sender, user_hash=user_hash)


async def mytickets(ctx: CommandContext) -> Reply:
    p = ctx.services.settings.bot.command_prefix
    if not ctx.message.is_direct:
        raise UserError(f"To keep it private, send `{p}mytickets` to me in a direct message.")
    first = ctx.params["ticket"]
    if first and not is_ticket_ref(first):
        # A claim code (a ticket filed without follow-up): works in any DM.
        found = await repo.ticket_by_hash(ctx.session, value=claim_hash(ctx.args))
        if found is None or found.reporter_route or found.reporter_id:
            raise UserError("I don't know that claim code. Check it and try again.")
        return views.reporter_view(found, await repo.comments(ctx.session, ticket_id=found.id))
    own = await _own_tickets(ctx)
    if first:
        wanted = parse_ref(first)
        found = next((t for t in own if t.id == wanted), None)
        if found is None:
            raise UserError(f"I can't find a ticket T-{wanted} of yours.")
        return views.reporter_view(found, await repo.comments(ctx.session, ticket_id=wanted))
    if not own:
        return Reply(f"You have no tickets. `{p}ticket <question>` asks the team for help.")
    lines = ["Your tickets:", "", *(f"- {md.escape(texts.reporter_line(t))}" for t in own)]
    lines += ["", f"`{p}mytickets T-N` shows one in full."]
    return Reply("\n".join(lines))


async def comment(ctx: CommandContext) -> Reply:
    """``!comment T-N <text>`` by the reporter, in a DM."""
    p = ctx.services.settings.bot.command_prefix
    if not ctx.message.is_direct:
        raise UserError("To keep it private, send your comment to me in a direct message.")
    number = parse_ref(ctx.params["ticket"])
    found = await repo.get_ticket(ctx.session, number=number)
    if found is None or not await service.is_reporter(ctx.session, ctx.services, found, ctx.sender):
        if found is not None and ctx.is_security_team:
            raise UserError(f"Only the reporter comments; use `{p}reply` or `{p}note`.")
        raise UserError(f"I can't find a ticket T-{number} of yours.")
    return await service.reporter_comment(act_of(ctx), found, ctx.params["text"])


async def tickets(ctx: CommandContext) -> Reply:
    service.require_private_room(ctx.message.room_kind)
    which = ctx.params["which"] or "open"
    if which == "new":
        found = await repo.list_tickets(ctx.session, states=("new",))
    elif which == "mine":
        found = await repo.list_tickets(
            ctx.session, exclude_states=("closed",), assignee=ctx.sender
        )
    elif which == "all":
        found = await repo.list_tickets(ctx.session, limit=200)
    else:
        found = await repo.list_tickets(ctx.session, exclude_states=("closed",))
    if not found:
        return Reply(f"No {which} tickets.")
    lines = [f"Tickets ({which}):", "", *(f"- {md.escape(texts.list_line(t))}" for t in found)]
    return Reply("\n".join(lines))


async def dm_reply(ctx: CommandContext) -> Reply | None:
    """A reporter's reply (in the DM) to one of the bot's messages about a ticket."""
    msg = ctx.message
    if msg.room_kind is not RoomKind.DIRECT or not msg.in_reply_to:
        return None
    sent = await Messenger.subject_of(ctx.session, msg.in_reply_to)
    if sent is None:
        return None
    names = (sent.txn_id, message_key(ctx.services, sent.txn_id))
    found = await repo.ticket_for_message(ctx.session, names=names)
    if found is None or not await service.is_reporter(ctx.session, ctx.services, found, ctx.sender):
        return None
    text = strip_reply_fallback(msg.body)
    if not text:
        return None
    return await service.reporter_comment(act_of(ctx), found, text)
