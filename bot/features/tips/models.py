"""Tables of the tips feature: one row per claimed slot, and anonymous ✅ marks."""

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


class TipDone(Base):
    """Someone reacted ✅ to a tip post.

    Only a hash of (post, user) is kept: enough to count each person once per post,
    without a list of who did (or did not do) their homework.
    """

    __tablename__ = "tip_done"
    __table_args__ = (UniqueConstraint("post_id", "reactor"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("tip_posts.id", ondelete="CASCADE"))
    reactor: Mapped[str] = mapped_column(String(64))
    reacted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
