"""Database access for tips. Keyword-only, session passed in, never commits."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tips.models import POSTED, TipDone, TipPost
from bot.features.tips.schedule import Slot, SlotKey
from bot.storage.models import OutboxMessage


async def claimed_keys(session: AsyncSession, *, since: date) -> set[SlotKey]:
    """Every (campaign, local date, room) claimed on or after ``since``."""
    rows = await session.execute(
        select(TipPost.campaign, TipPost.local_date, TipPost.room_id).where(
            TipPost.local_date >= since
        )
    )
    return {(c, d, r) for c, d, r in rows}


async def claim(
    session: AsyncSession,
    *,
    slot: Slot,
    status: str,
    txn_id: str | None = None,
    skipped_by: str | None = None,
) -> TipPost:
    """Insert the claim row of ``slot`` and flush it.

    Raises:
        IntegrityError: the slot is already claimed (another replica, an earlier run).
            The caller's transaction must then be rolled back.
    """
    row = TipPost(
        campaign=slot.campaign.name,
        local_date=slot.local_date,
        room_id=slot.room_id,
        day=slot.day,
        status=status,
        txn_id=txn_id,
        skipped_by=skipped_by,
    )
    session.add(row)
    await session.flush()
    return row


async def posts_for(
    session: AsyncSession, *, campaign: str, first: date, last: date
) -> list[TipPost]:
    """Claim rows of ``campaign`` between two local dates, oldest first."""
    rows = await session.scalars(
        select(TipPost)
        .where(
            TipPost.campaign == campaign,
            TipPost.local_date >= first,
            TipPost.local_date <= last,
        )
        .order_by(TipPost.local_date, TipPost.room_id)
    )
    return list(rows)


async def fill_event_ids(session: AsyncSession) -> int:
    """Copy the event id of sent tip posts from the outbox. Returns how many were filled."""
    rows = await session.execute(
        select(TipPost, OutboxMessage.sent_event_id)
        .join(OutboxMessage, OutboxMessage.txn_id == TipPost.txn_id)
        .where(
            TipPost.status == POSTED,
            TipPost.event_id.is_(None),
            OutboxMessage.sent_event_id.is_not(None),
        )
    )
    filled = 0
    for post, event_id in rows:
        post.event_id = event_id
        filled += 1
    return filled


async def post_by_event(session: AsyncSession, *, event_id: str) -> TipPost | None:
    """The tip post sent as ``event_id`` (looked up in the outbox if not copied yet)."""
    post = await session.scalar(select(TipPost).where(TipPost.event_id == event_id))
    if post is not None:
        return post
    post = await session.scalar(
        select(TipPost)
        .join(OutboxMessage, OutboxMessage.txn_id == TipPost.txn_id)
        .where(OutboxMessage.sent_event_id == event_id, TipPost.status == POSTED)
    )
    if post is not None:
        post.event_id = event_id
    return post


async def mark_done(session: AsyncSession, *, post_id: int, reactor: str) -> bool:
    """Record one ✅ (by a hashed reactor). Returns False if already counted."""
    exists = await session.scalar(
        select(TipDone.id).where(TipDone.post_id == post_id, TipDone.reactor == reactor)
    )
    if exists is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(TipDone(post_id=post_id, reactor=reactor))
    except IntegrityError:  # the same person's concurrent reaction, via another replica
        return False
    return True


async def done_counts(session: AsyncSession, *, post_ids: list[int]) -> dict[int, int]:
    """How many distinct people marked each post done."""
    if not post_ids:
        return {}
    rows = await session.execute(
        select(TipDone.post_id, func.count())
        .where(TipDone.post_id.in_(post_ids))
        .group_by(TipDone.post_id)
    )
    return {post_id: int(count) for post_id, count in rows}
