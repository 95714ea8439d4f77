"""Ticket logic (filing: filing.py): state changes, relays to the reporter, the audit trail.

Privacy rule for this module: logs carry ticket numbers, kinds and lengths, never text and
never the id of an anonymous reporter.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Outbound, Reply, RoomKind
from bot.commands.errors import UserError
from bot.features.act import Act
from bot.features.tickets import anonymity, texts
from bot.features.tickets import repository as repo
from bot.features.tickets.anonymity import reporter_hash
from bot.features.tickets.models import Ticket, TicketComment, TicketEvent
from bot.features.tickets.redaction import source_hash
from bot.messaging import Messenger
from bot.outbox import to_the_hour, txn_id_for

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


ANONYMOUS_ACTOR = "reporter (anonymous)"
TAGS_MAX_CHARS = Ticket.__table__.c.tags.type.length  # the column's size


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
    act: Act, ticket: Ticket, action: str, detail: str = "", actor: str | None = None
) -> None:
    """Record who (default: ``act.by``) did what to ``ticket``, and when."""
    actor = actor or act.by
    at = stamp(ticket, act.now)
    ticket.updated_at = at
    await repo.add_event(
        act.session,
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


async def _reporter_target(
    session: AsyncSession, services: Services, ticket: Ticket
) -> dict[str, str]:
    if ticket.reporter_route is not None:
        try:
            user_id, room_id = anonymity.open_route(services, ticket.reporter_route)
        except ValueError:
            raise UserError(
                f"I can't reach the reporter of {ticket.ref}: the anonymity key was changed."
            ) from None
        return {"room_id": room_id} if room_id else {"dm_user_id": user_id}
    if ticket.reporter_room_id is None and ticket.reporter_dm_txn is not None:
        # An anonymous ticket filed in the public room: the DM was opened by the outbox.
        sent = await Messenger.sent_by_key(session, ticket.reporter_dm_txn)
        if sent is not None and sent.room_id is not None:
            ticket.reporter_room_id = sent.room_id
    if ticket.reporter_room_id is not None:
        return {"room_id": ticket.reporter_room_id}
    if ticket.reporter_id is not None:
        return {"dm_user_id": ticket.reporter_id}
    raise UserError(
        f"I can't reach the reporter of {ticket.ref} yet (their direct chat is still being "
        "opened); please try again in a minute."
    )


def reporter_key(act: Act, ticket: Ticket) -> str:
    """The idempotency key of the next message to ``ticket``'s reporter for this event.

    Chosen here, not derived from the router's numbering of a handler's messages: the
    n-th message to this reporter about this ticket caused by this event (a retry of the
    event counts the same way, so the homeserver de-duplicates the resend).
    """
    stem = f"{act.cause}:ticket:{ticket.id}:reporter:"
    sent = sum(1 for out in act.out if out.key is not None and out.key.startswith(stem))
    return f"{stem}{sent + 1}"


async def send_to_reporter(act: Act, ticket: Ticket, text: str) -> str | None:
    """Queue a DM (Markdown ``text``) to the reporter and remember it, so a reply to it
    becomes a comment.

    Returns None (nothing sent) for a ticket filed without follow-up.
    """
    if not has_route(ticket):
        return None
    target = await _reporter_target(act.session, act.services, ticket)
    if not ticket.anonymous:
        key = reporter_key(act, ticket)
        act.send(Outbound(text, key=key, private=True, **target))
        txn = txn_id_for(key, 0)
        await repo.remember_message(act.session, txn_id=txn, ticket_id=ticket.id)
        return txn
    key = anonymity.unlinkable_txn_key(act.services, act.cause, len(act.out) + 1)
    act.send(Outbound(text, txn_key=key, private=True, **target))
    txn = txn_id_for(key, 0)
    name = anonymity.message_key(act.services, txn)
    await repo.remember_message(act.session, txn_id=name, ticket_id=ticket.id)
    return txn


def announce(act: Act, text: str, *, ticket: Ticket | None = None) -> None:
    """Post Markdown ``text`` to the triage room (when it is known); unlinkably for an
    anonymous ticket."""
    if not act.services.rooms.triage:
        return
    key = None
    if ticket is not None and ticket.anonymous:
        key = anonymity.unlinkable_txn_key(act.services, act.cause, len(act.out) + 1)
    # Private too: once sent, the row keeps no text and no exact time to match with the
    # reporter's own message.
    act.send(
        Outbound(
            text,
            room_id=act.services.rooms.triage,
            txn_key=key,
            private=key is not None,
        )
    )


async def change_state(
    act: Act, ticket: Ticket, state: str, why: str = "", actor: str | None = None
) -> None:
    """Move ``ticket`` to ``state``, audit it and tell the reporter (``why``: Markdown)."""
    old = ticket.state
    if old == state:
        return
    ticket.state = state
    if state == "closed":
        ticket.closed_at = stamp(ticket, act.now)
    elif old == "closed":
        ticket.closed_at = None
        ticket.resolution = None
        ticket.duplicate_of = None
    detail = f"{texts.STATE_LABELS[old]} → {texts.STATE_LABELS[state]}"
    await audit(act, ticket, "state", detail, actor)
    log.info("ticket %s: state %s -> %s", ticket.ref, old, state)
    line = f"Update on your ticket {ticket.ref}: it is now {texts.state_label(ticket)}."
    if why:
        line += f"\n{why}"
    await send_to_reporter(act, ticket, line)


async def add_comment(
    act: Act,
    ticket: Ticket,
    text: str,
    *,
    kind: str,
    author: str | None,
    actor: str | None = None,
) -> None:
    await repo.add_comment(
        act.session,
        comment=TicketComment(
            ticket_id=ticket.id,
            kind=kind,
            author=author,
            text=text,
            created_at=stamp(ticket, act.now),
            source_hash=source_hash(act.services, act.cause),
        ),
    )
    await audit(act, ticket, kind, f"{len(text)} chars", actor)
    log.info("ticket %s: %s added (%d chars)", ticket.ref, kind, len(text))


async def reporter_comment(act: Act, ticket: Ticket, text: str) -> Reply:
    """``act.by``'s comment as the reporter: stored, the team told (without the text),
    state moved on."""
    if ticket.state == "closed":
        raise UserError(
            f"{ticket.ref} is closed. If you still need help, file a new ticket — asking "
            "again is always fine."
        )
    author = None if ticket.anonymous else act.by
    actor = reporter_actor(ticket, act.by)
    await add_comment(act, ticket, text, kind="comment", author=author, actor=actor)
    announce(
        act,
        f"{ticket.ref}: the reporter added a comment. `{{prefix}}show {ticket.ref}` to read it.",
        ticket=ticket,
    )
    if ticket.state == "waiting":
        next_state = "in_progress" if ticket.assignee else "triaged"
        await change_state(act, ticket, next_state, actor=actor)
    return Reply(f"Thanks — added to {ticket.ref}. The security team has been told.")
