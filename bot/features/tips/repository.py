"""Database access for tips. Keyword-only, session passed in, never commits."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tips.models import POSTED, SKIPPED, TipMark, TipPost
from bot.features.tips.schedule import Slot, SlotKey
from bot.messaging import Messenger


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
    """Copy the event id of sent tip posts (asked of the Messenger). Returns how many."""
    posts = list(
        await session.scalars(
            select(TipPost).where(TipPost.status == POSTED, TipPost.event_id.is_(None))
        )
    )
    sent = await Messenger.sent_by_keys(session, [p.txn_id for p in posts if p.txn_id])
    filled = 0
    for post in posts:
        event_id = sent[post.txn_id].event_id if post.txn_id in sent else None
        if event_id is not None:
            post.event_id = event_id
            filled += 1
    return filled


async def post_by_event(session: AsyncSession, *, event_id: str) -> TipPost | None:
    """The tip post sent as ``event_id`` (asked of the Messenger if not copied yet)."""
    post = await session.scalar(select(TipPost).where(TipPost.event_id == event_id))
    if post is not None:
        return post
    sent = await Messenger.subject_of(session, event_id)
    if sent is None:
        return None
    post = await session.scalar(
        select(TipPost).where(TipPost.txn_id == sent.txn_id, TipPost.status == POSTED)
    )
    if post is not None:
        post.event_id = event_id
    return post


async def unskip(session: AsyncSession, *, campaign: str, local_date: date) -> int:
    """Delete the skipped claims of ``campaign`` on ``local_date``. Returns how many."""
    result = await session.execute(
        delete(TipPost).where(
            TipPost.campaign == campaign,
            TipPost.local_date == local_date,
            TipPost.status == SKIPPED,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def add_mark(
    session: AsyncSession,
    *,
    kind: str,
    campaign: str,
    local_date: date,
    marker: str,
    post_id: int | None = None,
    event_ref: str | None = None,
) -> bool:
    """Record one mark. Returns False when that person was already counted that day."""
    exists = await session.scalar(
        select(TipMark.id).where(
            TipMark.kind == kind,
            TipMark.campaign == campaign,
            TipMark.local_date == local_date,
            TipMark.marker == marker,
        )
    )
    try:
        async with session.begin_nested():
            session.add(
                TipMark(
                    kind=kind,
                    campaign=campaign,
                    local_date=local_date,
                    post_id=post_id,
                    marker=marker,
                    event_ref=event_ref,
                )
            )
    except IntegrityError:  # the same reaction event, via another replica
        return False
    return exists is None


async def remove_mark(session: AsyncSession, *, event_ref: str) -> TipMark | None:
    """Delete the mark made by one (now redacted) event; returns it, or None."""
    mark = await session.scalar(select(TipMark).where(TipMark.event_ref == event_ref))
    if mark is not None:
        await session.delete(mark)
        await session.flush()
    return mark


async def mark_counts(
    session: AsyncSession, *, campaign: str, first: date, last: date
) -> dict[tuple[str, date], int]:
    """Distinct people per (kind, local date) of ``campaign`` between two dates."""
    rows = await session.execute(
        select(TipMark.kind, TipMark.local_date, func.count(func.distinct(TipMark.marker)))
        .where(
            TipMark.campaign == campaign,
            TipMark.local_date >= first,
            TipMark.local_date <= last,
        )
        .group_by(TipMark.kind, TipMark.local_date)
    )
    return {(kind, day): int(n) for kind, day, n in rows}


async def present_markers(session: AsyncSession, *, markers: list[str]) -> set[str]:
    """Which of ``markers`` exist."""
    if not markers:
        return set()
    rows = await session.scalars(select(TipMark.marker).where(TipMark.marker.in_(markers)))
    return set(rows)


async def mark_days(session: AsyncSession) -> list[tuple[str, str, date]]:
    """Every distinct (kind, campaign, local date) that has marks."""
    rows = await session.execute(
        select(TipMark.kind, TipMark.campaign, TipMark.local_date).distinct()
    )
    return [(k, c, d) for k, c, d in rows]


async def marks_by_marker(session: AsyncSession, *, markers: list[str]) -> list[str]:
    """The kind of each distinct (kind, campaign, day) mark in ``markers``."""
    if not markers:
        return []
    rows = await session.execute(
        select(TipMark.kind, TipMark.campaign, TipMark.local_date)
        .where(TipMark.marker.in_(markers))
        .distinct()
    )
    return [kind for kind, _, _ in rows]


async def delete_markers(session: AsyncSession, *, markers: list[str]) -> int:
    """Delete every mark in ``markers``. Returns how many rows went."""
    if not markers:
        return 0
    result = await session.execute(delete(TipMark).where(TipMark.marker.in_(markers)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def expire_marks(
    session: AsyncSession, *, campaign: str | None, first: date | None, last: date
) -> int:
    """Delete marks of ``campaign`` (None: any) dated ``first``..``last``. Returns how many."""
    query = delete(TipMark).where(TipMark.local_date <= last)
    if campaign is not None:
        query = query.where(TipMark.campaign == campaign)
    if first is not None:
        query = query.where(TipMark.local_date >= first)
    result = await session.execute(query)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_campaigns(session: AsyncSession) -> set[str]:
    """Names of the campaigns that have marks."""
    return set(await session.scalars(select(TipMark.campaign).distinct()))
