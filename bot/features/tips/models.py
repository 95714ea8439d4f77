"""Tables of the tips feature: one row per claimed slot, and keyed per-person marks."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, UTCDateTime, utcnow
from bot.storage.models import BigIntId

# TipPost.status values.
POSTED = "posted"  # queued in the outbox (event_id filled in once sent)
SKIPPED = "skipped"  # the security team said `!tip skip <date>`
MISSED = "missed"  # the bot was down past the catch-up window


class TipPost(Base):
    """A (campaign, local date, room) slot, claimed before anything is sent.

    The unique constraint is what makes a tip appear exactly once: a second replica or a
    restarted bot fails to insert the same slot and does nothing.
    """

    __tablename__ = "tip_posts"
    __table_args__ = (UniqueConstraint("campaign", "local_date", "room_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(64))
    local_date: Mapped[date] = mapped_column(Date)
    room_id: Mapped[str] = mapped_column(String(255))
    day: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    txn_id: Mapped[str | None] = mapped_column(String(255), index=True)
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Who asked for a skip (security team member), for accountability; None otherwise.
    skipped_by: Mapped[str | None] = mapped_column(String(255))


class TipMark(Base):
    """One person's ✅ on a tip (``done``) or "I'm stuck" on a day (``stuck``).

    ``marker`` is a keyed hash of (kind, campaign, date, person) and ``event_ref`` one of
    the reaction event (see :mod:`bot.features.tips.markers`): enough to count each person
    once and to take a removed ✅ back, never enough to list who did (or did not) do it.
    Deleted ``tips.keep_days`` after the campaign run ends.
    """

    __tablename__ = "tip_marks"
    __table_args__ = (UniqueConstraint("event_ref"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    campaign: Mapped[str] = mapped_column(String(64), index=True)
    local_date: Mapped[date] = mapped_column(Date)
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("tip_posts.id", ondelete="CASCADE"), index=True
    )
    marker: Mapped[str] = mapped_column(String(64), index=True)
    event_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
