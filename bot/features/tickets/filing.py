"""Filing a ticket: ``!ticket`` (and the tips' "stuck" tickets), named or anonymous.

Privacy rule for this module: logs carry ticket numbers, kinds and lengths, never text and
never the id of an anonymous reporter.
"""

from __future__ import annotations

import logging

from bot.commands.context import Outbound, Reply, RoomKind
from bot.commands.errors import UsageError
from bot.features.tickets import anonymity, texts
from bot.features.tickets import repository as repo
from bot.features.tickets.anonymity import reporter_hash
from bot.features.tickets.models import Ticket
from bot.features.tickets.parsing import parse_filing_options
from bot.features.tickets.redaction import source_hash
from bot.features.tickets.service import (
    TAGS_MAX_CHARS,
    Act,
    announce,
    audit,
    reporter_actor,
    send_to_reporter,
    team_list,
)
from bot.outbox import to_the_hour, txn_id_for

log = logging.getLogger(__name__)


async def file_ticket(act: Act, args: str, *, room_id: str, room_kind: RoomKind) -> Reply:
    """``!ticket [#tag] [assessment] [anonymous] <text>`` by ``act.by`` in ``room_id``."""
    kind, tags, anonymous, no_follow_up, text = parse_filing_options(args)
    if not text:
        if anonymous:
            return Reply(texts.anonymity_limits())
        return Reply(texts.how_to_file())
    act.services.rate_limit("tickets", act.by)
    tag_text = ",".join(dict.fromkeys(tags))
    if len(tag_text) > TAGS_MAX_CHARS:
        raise UsageError(f"Too many tags (at most {TAGS_MAX_CHARS} characters in all).")
    direct = room_kind is RoomKind.DIRECT
    ticket = Ticket(
        kind=kind,
        tags=tag_text,
        state="new",
        text=text,
        anonymous=anonymous,
        filed_in="direct" if direct else room_kind.value,
        created_at=act.now,
        updated_at=act.now,
        nudges_sent=0,
        source_hash=source_hash(act.services, act.cause),
    )
    claim_code = await _reporter_of(act, ticket, no_follow_up, room_id if direct else None)
    await repo.add_ticket(act.session, ticket=ticket)
    await audit(act, ticket, "filed", f"{kind}, {len(text)} chars", reporter_actor(ticket, act.by))
    log.info(
        "ticket %s filed: kind=%s tags=%d anonymous=%s length=%d",
        ticket.ref,
        kind,
        len(tags),
        anonymous,
        len(text),
    )
    confirmation = texts.filed_message(ticket, team_list(act.services), not direct)
    if claim_code is not None:
        confirmation = texts.claim_code_message(ticket, claim_code, not direct)
    announce(act, texts.announcement(ticket), ticket=ticket)
    if direct:
        if claim_code is None:
            txn = txn_id_for(act.cause, 0)
            name = anonymity.message_key(act.services, txn) if anonymous else txn
            await repo.remember_message(act.session, txn_id=name, ticket_id=ticket.id)
        return Reply(confirmation)
    if claim_code is not None:
        key = anonymity.unlinkable_txn_key(act.services, act.cause, len(act.out) + 1)
        act.send(Outbound(confirmation, dm_user_id=act.by, txn_key=key, private=True))
    else:
        await send_to_reporter(act, ticket, confirmation)
    return Reply(texts.public_ack(ticket, act.by))


async def _reporter_of(
    act: Act, ticket: Ticket, no_follow_up: bool, dm_room_id: str | None
) -> str | None:
    """Set who filed ``ticket`` (``act.by``) and how to reach them; the claim code, if any."""
    if not ticket.anonymous:
        ticket.reporter_id = act.by
        ticket.reporter_room_id = dm_room_id
        return None
    # Nothing in clear leads back: a keyed hash and an encrypted route, or (without
    # follow-up) only the hash of a claim code; times kept to the hour.
    ticket.created_at = ticket.updated_at = to_the_hour(act.now)
    if no_follow_up:
        claim_code = anonymity.new_claim_code()
        ticket.reporter_hash = anonymity.claim_hash(claim_code)
        return claim_code
    ticket.reporter_hash = await reporter_hash(act.session, act.services, act.by)
    ticket.reporter_route = anonymity.seal_route(act.services, user_id=act.by, room_id=dm_room_id)
    return None
