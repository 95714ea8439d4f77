"""Owners reconfirm: "Still the owner of *X*? 👍 yes · 👎 no · reply with who".

Every ``ownership.reconfirm_every`` each owner of an area not verified within that time
(or whose account is deactivated) gets one DM per such area. 👍 marks the area verified
(by that owner); 👎, or a reply naming someone, records a proposed change that the
security team sees in ``!owners gaps`` and accepts with ``!owners accept <n>``; the next
``helpdesk-bot owners export`` writes the accepted state back to the YAML.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Reaction
from bot.features.ownership.models import Area, Reconfirmation
from bot.messaging import Message, Messenger, ToPerson, md

if TYPE_CHECKING:
    from bot.features.ownership.service import OwnershipService
    from bot.services import Services

log = logging.getLogger(__name__)
# A user id inside a sentence (bot.ids.USER_ID matches a whole string only).
_MENTION = re.compile(r"(?<![\w@])@[^:\s]+:[A-Za-z0-9.\-]+(?::\d+)?")
YES = ("👍", "👍️", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿", "+1")
NO = ("👎", "👎️", "👎🏻", "👎🏼", "👎🏽", "👎🏾", "👎🏿", "-1")
OPEN = ("no", "proposed")  # answered, waiting for the security team


def question_text(area: str) -> str:
    """The DM, in Markdown (the area's name in bold)."""
    return f"Still the owner of **{md.escape(area)}**? 👍 yes · 👎 no · reply with who"


async def send_due(services: Services, service: OwnershipService) -> int:
    """Queue one DM per (stale area, owner) not asked within ``reconfirm_every``."""
    now = services.clock()
    cutoff = now - service.settings.reconfirm_every
    sent = 0
    async with services.db.sessions() as session:
        snap = await service.snapshot(session)
    # Outside the write transaction: the homeserver may take a while to answer.
    await service.check_accounts(o for e in snap.index.entries for o in e.area.owners)
    async with services.db.sessions.begin() as session:
        snap = await service.snapshot(session)
        asked = {
            (r.area_name, r.owner)
            for r in await session.scalars(
                select(Reconfirmation).where(Reconfirmation.sent_at >= cutoff)
            )
        }
        for entry in snap.index.entries:
            view = entry.area
            gone = any(o in service.deactivated for o in view.owners)
            fresh = view.last_verified is not None and view.last_verified >= cutoff
            if fresh and not gone:
                continue
            for owner in view.owners:
                if (view.name, owner) in asked or owner in service.deactivated:
                    continue
                if sent >= service.settings.reconfirm_batch:
                    break
                row = Reconfirmation(
                    area_name=view.name, owner=owner, sent_at=now, status="pending"
                )
                session.add(row)
                await session.flush()
                key = f"ownership-reconfirm:{row.id}"
                question = Message(question_text(view.name), to=ToPerson(owner), key=key)
                row.txn_id = await Messenger.post(session, question)
                sent += 1
    if sent:
        log.info("ownership: %d reconfirmation DM(s) queued", sent)
        services.outbox.wake()
    return sent


async def _row_for(session: AsyncSession, event_id: str) -> Reconfirmation | None:
    row = await session.scalar(select(Reconfirmation).where(Reconfirmation.event_id == event_id))
    if row is not None:
        return row
    sent = await Messenger.subject_of(session, event_id)
    if sent is None:
        return None
    row = await session.scalar(select(Reconfirmation).where(Reconfirmation.txn_id == sent.txn_id))
    if row is not None:
        row.event_id = event_id
    return row


def on_reaction(service: OwnershipService):  # type: ignore[no-untyped-def]
    """The router's reaction handler: 👍 verifies, 👎 records a proposed change."""

    async def handle(reaction: Reaction, session: AsyncSession, services: Services) -> None:
        yes, no = reaction.key in YES, reaction.key in NO
        if not (yes or no):
            return None
        row = await _row_for(session, reaction.target_event_id)
        if row is None or row.owner != reaction.sender or row.status != "pending":
            return None
        now = services.clock()
        row.answered_at = now
        if yes:
            row.status = "yes"
            await _verify(session, service, row, now)
        else:
            row.status = "no"
        log.info("ownership: reconfirmation %s answered %s", row.id, row.status)
        return None

    return handle


async def _verify(
    session: AsyncSession, service: OwnershipService, row: Reconfirmation, now: datetime
) -> None:
    area = await session.scalar(select(Area).where(Area.name == row.area_name))
    if area is None:
        return
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    await service._change(session, area, "last_verified", today, f"reconfirmed:{row.owner}", now)
    area.verified_by = row.owner


async def on_reply(
    session: AsyncSession,
    sender: str,
    text: str,
    now: datetime,
    *,
    room_id: str,
    in_reply_to: str | None = None,
) -> str | None:
    """A reply naming someone, in the DM where ``sender`` was asked: a proposed owner.

    The question answered is the one replied to, else the latest pending one in that
    room. Returns the area's name when the message was taken as an answer, else None.
    """
    found = _MENTION.search(text)
    if found is None:
        return None
    asked = list(
        await session.scalars(
            select(Reconfirmation)
            .where(Reconfirmation.owner == sender, Reconfirmation.status == "pending")
            .order_by(Reconfirmation.sent_at.desc(), Reconfirmation.id.desc())
        )
    )
    sent = await Messenger.sent_by_keys(session, [r.txn_id for r in asked if r.txn_id])
    # Only the questions that went to this DM (the outbox knows the room once it is open).
    pending = [
        (r, sent[r.txn_id].event_id)
        for r in asked
        if r.txn_id in sent and sent[r.txn_id].room_id == room_id
    ]
    if not pending:
        return None
    row = next((r for r, sent in pending if in_reply_to and sent == in_reply_to), pending[0][0])
    row.status, row.proposed_owner, row.answered_at = "proposed", found[0].rstrip("."), now
    return row.area_name


async def open_changes(session: AsyncSession) -> list[Reconfirmation]:
    """Answers waiting for the security team (👎 or a proposed owner), oldest first."""
    return list(
        await session.scalars(
            select(Reconfirmation)
            .where(Reconfirmation.status.in_(OPEN))
            .order_by(Reconfirmation.id)
        )
    )


async def accept(
    session: AsyncSession, service: OwnershipService, number: int, *, actor: str, now: datetime
) -> str:
    """Apply change ``number``: the proposed owner replaces the old one (👎 with no name:
    the owner is removed, so the area shows as "no owner" until someone is set)."""
    row = await session.get(Reconfirmation, number)
    if row is None or row.status not in OPEN:
        from bot.commands.errors import UserError

        raise UserError(f"There is no open change {number} (see `{{prefix}}owners gaps`).")
    area = await session.scalar(select(Area).where(Area.name == row.area_name))
    if area is None:
        from bot.commands.errors import UserError

        raise UserError(f"The area {md.escape(repr(row.area_name))} no longer exists.")
    owners = [o for o in area.owners if o != row.owner]
    if row.proposed_owner and row.proposed_owner not in owners:
        owners.insert(0, row.proposed_owner)
    await service._change(session, area, "owners", owners, actor, now)
    row.status, row.resolved_at, row.resolved_by = "accepted", now, actor
    new = row.proposed_owner or "nobody"
    return f"Owners of {area.name}: {row.owner} → {new}"
