"""Ticket logic: filing, state changes, relays to the reporter, the audit trail.

Privacy rule for this module: logs carry ticket numbers, kinds and lengths, never text and
never the id of an anonymous reporter.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import CommandContext, Outbound, Reply, RoomKind
from bot.commands.errors import UsageError, UserError
from bot.features.tickets import anonymity, texts
from bot.features.tickets import repository as repo
from bot.features.tickets.anonymity import reporter_hash
from bot.features.tickets.models import Ticket, TicketComment, TicketEvent
from bot.features.tickets.redaction import source_hash
from bot.outbox import to_the_hour, txn_id_for

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

STATES = tuple(texts.STATE_LABELS)
_STATE_WORDS = {
    "new": "new",
    "triaged": "triaged",
    "triage": "triaged",
    "in progress": "in_progress",
    "in_progress": "in_progress",
    "in-progress": "in_progress",
    "inprogress": "in_progress",
    "progress": "in_progress",
    "waiting": "waiting",
    "waiting on reporter": "waiting",
    "waiting_on_reporter": "waiting",
    "waiting-on-reporter": "waiting",
    "resolved": "resolved",
    "closed": "closed",
}
_TAG = re.compile(r"^#([\w-]{1,32})$")
_WORD = re.compile(r"(\S+)(?:\s+|$)")
ANONYMOUS_ACTOR = "reporter (anonymous)"
TAGS_MAX_CHARS = Ticket.__table__.c.tags.type.length  # the column's size


def parse_state(words: str) -> str:
    """The state named by ``words`` ("in progress", "waiting", ...), or UsageError."""
    text = " ".join(words.lower().split())
    for phrase in sorted(_STATE_WORDS, key=len, reverse=True):
        if text == phrase or text.startswith(phrase + " "):
            return _STATE_WORDS[phrase]
    names = ", ".join(texts.STATE_LABELS.values())
    raise UsageError(f"I don't know the state {words!r}. States: {names}.")


NO_FOLLOW_UP = ("nofollowup", "no-followup", "no-follow-up", "untraceable")


def parse_filing(args: str) -> tuple[str, list[str], bool, str]:
    """Split ``!ticket`` arguments into kind, tags, anonymity and the text.

    Options are leading words in any order; the text keeps its line breaks.
    """
    kind, tags, anonymous, _, text = parse_filing_options(args)
    return kind, tags, anonymous, text


def parse_filing_options(args: str) -> tuple[str, list[str], bool, bool, str]:
    """Like :func:`parse_filing`, plus whether the reporter wants no follow-up at all."""
    kind, tags, anonymous, no_follow_up = "help", [], False, False
    rest = args.strip()
    while (match := _WORD.match(rest)) is not None:
        low = match[1].lower()
        if (tag := _TAG.match(low)) is not None:
            tags.append(tag[1])
        elif low in ("anonymous", "anon", "anonymously"):
            anonymous = True
        elif low in NO_FOLLOW_UP:
            anonymous = no_follow_up = True
        elif low in ("assessment", "review"):
            kind = "assessment"
        else:
            break
        rest = rest[match.end() :]
    return kind, tags, anonymous, no_follow_up, rest.strip()


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted "> <@bot> ..." lines some clients put before a reply's text."""
    lines = body.splitlines()
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


def team_list(services: Services) -> list[str]:
    return sorted(services.security_team())


def require_private_room(room_kind: RoomKind) -> None:
    """Triage commands only in the triage room or a DM: ticket details never go public."""
    if room_kind not in (RoomKind.TRIAGE, RoomKind.DIRECT):
        raise UserError(
            "For the reporters' privacy, ticket commands work only in the triage room or in "
            "a direct message with me."
        )


async def load(session: AsyncSession, number: int) -> Ticket:
    ticket = await repo.get_ticket(session, number=number)
    if ticket is None:
        raise UserError(f"There is no ticket T-{number}.")
    return ticket


def reporter_actor(ticket: Ticket, reporter: str) -> str:
    """How the audit trail names the reporter (never by id when anonymous)."""
    return ANONYMOUS_ACTOR if ticket.anonymous else reporter


def stamp(ticket: Ticket, now: datetime) -> datetime:
    """``now``; to the hour for an anonymous ticket (its times must not match a message's)."""
    return to_the_hour(now) if ticket.anonymous else now


async def audit(
    ctx: CommandContext, ticket: Ticket, action: str, detail: str = "", actor: str | None = None
) -> None:
    """Record who (default: the sender) did what to ``ticket``, and when."""
    actor = actor or ctx.sender
    at = stamp(ticket, ctx.now)
    ticket.updated_at = at
    await repo.add_event(
        ctx.session,
        event=TicketEvent(
            ticket_id=ticket.id, at=at, actor=actor, action=action, detail=detail[:255]
        ),
    )


async def is_reporter(
    session: AsyncSession, services: Services, ticket: Ticket, user_id: str
) -> bool:
    if ticket.reporter_id is not None:
        return ticket.reporter_id == user_id
    if ticket.reporter_hash is None:
        return False
    return ticket.reporter_hash == await reporter_hash(session, services, user_id)


def has_route(ticket: Ticket) -> bool:
    """Whether the bot can reach the reporter (False: filed without follow-up)."""
    return not ticket.anonymous or any(
        (ticket.reporter_route, ticket.reporter_room_id, ticket.reporter_dm_txn)
    )


async def _reporter_target(ctx: CommandContext, ticket: Ticket) -> dict[str, str]:
    if ticket.reporter_route is not None:
        try:
            user_id, room_id = anonymity.open_route(ctx.services, ticket.reporter_route)
        except ValueError:
            raise UserError(
                f"I can't reach the reporter of {ticket.ref}: the anonymity key was changed."
            ) from None
        return {"room_id": room_id} if room_id else {"dm_user_id": user_id}
    if ticket.reporter_room_id is None and ticket.reporter_dm_txn is not None:
        # An anonymous ticket filed in the public room: the DM was opened by the outbox.
        room = await repo.sent_room_of(ctx.session, txn_id=ticket.reporter_dm_txn)
        if room is not None:
            ticket.reporter_room_id = room
    if ticket.reporter_room_id is not None:
        return {"room_id": ticket.reporter_room_id}
    if ticket.reporter_id is not None:
        return {"dm_user_id": ticket.reporter_id}
    raise UserError(
        f"I can't reach the reporter of {ticket.ref} yet (their direct chat is still being "
        "opened); please try again in a minute."
    )


def reporter_key(ctx: CommandContext, ticket: Ticket) -> str:
    """The idempotency key of the next message to ``ticket``'s reporter for this event.

    Chosen here, not derived from the router's numbering of a handler's messages: the
    n-th message to this reporter about this ticket caused by this event (a retry of the
    event counts the same way, so the homeserver de-duplicates the resend).
    """
    counts: dict[int, int] = ctx.extra.setdefault("tickets:reporter_messages", {})
    counts[ticket.id] = counts.get(ticket.id, 0) + 1
    return f"{ctx.message.event_id}:ticket:{ticket.id}:reporter:{counts[ticket.id]}"


async def send_to_reporter(
    ctx: CommandContext, ticket: Ticket, text: str, html: str | None = None
) -> str | None:
    """Queue a DM to the reporter and remember it, so a reply to it becomes a comment.

    Returns None (nothing sent) for a ticket filed without follow-up.
    """
    if not has_route(ticket):
        return None
    target = await _reporter_target(ctx, ticket)
    if not ticket.anonymous:
        key = reporter_key(ctx, ticket)
        ctx.send(Outbound(text, html, key=key, private=True, **target))
        txn = txn_id_for(key, 0)
        await repo.remember_message(ctx.session, txn_id=txn, ticket_id=ticket.id)
        return txn
    key = anonymity.unlinkable_txn_key(ctx.services, ctx.message.event_id, len(ctx.outbound) + 1)
    ctx.send(Outbound(text, html, txn_key=key, private=True, **target))
    txn = txn_id_for(key, 0)
    name = anonymity.message_key(ctx.services, txn)
    await repo.remember_message(ctx.session, txn_id=name, ticket_id=ticket.id)
    return txn


def announce(ctx: CommandContext, text: str, *, ticket: Ticket | None = None) -> None:
    """Post Markdown ``text`` to the triage room (when it is known); unlinkably for an
    anonymous ticket."""
    if not ctx.services.rooms.triage:
        return
    key = None
    if ticket is not None and ticket.anonymous:
        key = anonymity.unlinkable_txn_key(
            ctx.services, ctx.message.event_id, len(ctx.outbound) + 1
        )
    # Private too: once sent, the row keeps no text and no exact time to match with the
    # reporter's own message.
    ctx.send(
        Outbound(
            text,
            room_id=ctx.services.rooms.triage,
            txn_key=key,
            private=key is not None,
            markdown=True,
        )
    )


async def file_ticket(ctx: CommandContext) -> Reply:
    """``!ticket [#tag] [assessment] [anonymous] <text>``."""
    prefix = ctx.services.settings.bot.command_prefix
    kind, tags, anonymous, no_follow_up, text = parse_filing_options(ctx.args)
    if not text:
        if anonymous:
            return Reply(texts.anonymity_limits(prefix))
        return Reply(texts.how_to_file(prefix))
    ctx.services.rate_limit("tickets", ctx.sender)
    tag_text = ",".join(dict.fromkeys(tags))
    if len(tag_text) > TAGS_MAX_CHARS:
        raise UsageError(f"Too many tags (at most {TAGS_MAX_CHARS} characters in all).")
    direct = ctx.message.is_direct
    ticket = Ticket(
        kind=kind,
        tags=tag_text,
        state="new",
        text=text,
        anonymous=anonymous,
        filed_in="direct" if direct else ctx.message.room_kind.value,
        created_at=ctx.now,
        updated_at=ctx.now,
        nudges_sent=0,
        source_hash=source_hash(ctx.services, ctx.message.event_id),
    )
    claim_code = None
    if anonymous:
        # Nothing in clear leads back: a keyed hash and an encrypted route, or (without
        # follow-up) only the hash of a claim code; times kept to the hour.
        ticket.created_at = ticket.updated_at = to_the_hour(ctx.now)
        if no_follow_up:
            claim_code = anonymity.new_claim_code()
            ticket.reporter_hash = anonymity.claim_hash(claim_code)
        else:
            ticket.reporter_hash = await reporter_hash(ctx.session, ctx.services, ctx.sender)
            ticket.reporter_route = anonymity.seal_route(
                ctx.services, user_id=ctx.sender, room_id=ctx.message.room_id if direct else None
            )
    else:
        ticket.reporter_id = ctx.sender
        ticket.reporter_room_id = ctx.message.room_id if direct else None
    await repo.add_ticket(ctx.session, ticket=ticket)
    await audit(
        ctx, ticket, "filed", f"{kind}, {len(text)} chars", reporter_actor(ticket, ctx.sender)
    )
    log.info(
        "ticket %s filed: kind=%s tags=%d anonymous=%s length=%d",
        ticket.ref,
        kind,
        len(tags),
        anonymous,
        len(text),
    )
    confirmation = texts.filed_message(ticket, team_list(ctx.services), prefix, not direct)
    if claim_code is not None:
        confirmation = texts.claim_code_message(ticket, claim_code, prefix, not direct)
    announce(ctx, texts.announcement(ticket), ticket=ticket)
    if direct:
        if claim_code is None:
            txn = txn_id_for(ctx.message.event_id, 0)
            name = anonymity.message_key(ctx.services, txn) if anonymous else txn
            await repo.remember_message(ctx.session, txn_id=name, ticket_id=ticket.id)
        return Reply(confirmation)
    if claim_code is not None:
        key = anonymity.unlinkable_txn_key(
            ctx.services, ctx.message.event_id, len(ctx.outbound) + 1
        )
        ctx.send(Outbound(confirmation, dm_user_id=ctx.sender, txn_key=key, private=True))
    else:
        await send_to_reporter(ctx, ticket, confirmation)
    return Reply(texts.public_ack(ticket, ctx.sender))


async def change_state(
    ctx: CommandContext, ticket: Ticket, state: str, why: str = "", actor: str | None = None
) -> None:
    """Move ``ticket`` to ``state``, audit it and tell the reporter."""
    old = ticket.state
    if old == state:
        return
    ticket.state = state
    if state == "closed":
        ticket.closed_at = stamp(ticket, ctx.now)
    elif old == "closed":
        ticket.closed_at = None
        ticket.resolution = None
        ticket.duplicate_of = None
    detail = f"{texts.STATE_LABELS[old]} → {texts.STATE_LABELS[state]}"
    await audit(ctx, ticket, "state", detail, actor)
    log.info("ticket %s: state %s -> %s", ticket.ref, old, state)
    line = f"Update on your ticket {ticket.ref}: it is now {texts.state_label(ticket)}."
    if why:
        line += f"\n{why}"
    await send_to_reporter(ctx, ticket, line)


async def add_comment(
    ctx: CommandContext,
    ticket: Ticket,
    text: str,
    *,
    kind: str,
    author: str | None,
    actor: str | None = None,
) -> None:
    await repo.add_comment(
        ctx.session,
        comment=TicketComment(
            ticket_id=ticket.id,
            kind=kind,
            author=author,
            text=text,
            created_at=stamp(ticket, ctx.now),
            source_hash=source_hash(ctx.services, ctx.message.event_id),
        ),
    )
    await audit(ctx, ticket, kind, f"{len(text)} chars", actor)
    log.info("ticket %s: %s added (%d chars)", ticket.ref, kind, len(text))


async def reporter_comment(ctx: CommandContext, ticket: Ticket, text: str) -> Reply:
    """A reporter's comment: stored, the team told (without the text), state moved on."""
    if ticket.state == "closed":
        raise UserError(
            f"{ticket.ref} is closed. If you still need help, file a new ticket — asking "
            "again is always fine."
        )
    author = None if ticket.anonymous else ctx.sender
    actor = reporter_actor(ticket, ctx.sender)
    await add_comment(ctx, ticket, text, kind="comment", author=author, actor=actor)
    announce(
        ctx,
        f"{ticket.ref}: the reporter added a comment. `{{prefix}}show {ticket.ref}` to read it.",
        ticket=ticket,
    )
    if ticket.state == "waiting":
        next_state = "in_progress" if ticket.assignee else "triaged"
        await change_state(ctx, ticket, next_state, actor=actor)
    return Reply(f"Thanks — added to {ticket.ref}. The security team has been told.")
