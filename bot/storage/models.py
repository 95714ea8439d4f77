"""Core tables of the foundation: what was handled, what is still to be sent, rooms, DMs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, UTCDateTime, utcnow

# BIGINT on PostgreSQL, but SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class HandledEvent(Base):
    """A Matrix event the bot has dealt with; the key to answering exactly once."""

    __tablename__ = "handled_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class OutboxMessage(Base):
    """A message the bot has decided to send, committed with the work that produced it.

    Sent with ``txn_id`` as the Matrix transaction id, so a resend after a crash is
    de-duplicated by the homeserver; ``sent_at`` is set once the homeserver accepted it.
    Either ``room_id`` or ``dm_user_id`` (a DM opened on demand) names the target.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    txn_id: Mapped[str] = mapped_column(String(255), unique=True)
    source_event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    room_id: Mapped[str | None] = mapped_column(String(255))
    dm_user_id: Mapped[str | None] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(64), default="m.room.message")
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    sent_event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))
    # A sender's lease on the row, so two replicas never send the same row at once.
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Delivery (bot/outbox): one queue per destination (the room id, or the user id of a DM
    # still to be opened), sent in order of priority then id; a failing row waits until
    # next_attempt_at; after too many failures it becomes "dead" (a dead letter).
    destination: Mapped[str | None] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="reply")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dead_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A message to one person: once sent, its content and dm_user_id are erased and its
    # times kept to the hour, so the row cannot be tied to what caused it.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What the message is about ("incident:12:post", see bot.messaging.Subject) and a
    # short plain preview of it: housekeeping empties old content but keeps these, so a
    # 📌 on an old post still records its text. Private rows keep neither once sent.
    subject: Mapped[str | None] = mapped_column(String(255), index=True)
    preview: Mapped[str | None] = mapped_column(String(500))


ACTIVE_LEASE = "active"  # the name of the one leader row


class LeaderLease(Base):
    """The fencing token of the active replica (bot/leader.py): one row per lock name.

    Incremented by each replica that becomes active; outbox marks are conditional on it,
    so a replica that lost its lock can no longer mark anything sent.
    """

    __tablename__ = "leader"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    fence: Mapped[int] = mapped_column(BigIntId, default=0)
    holder: Mapped[str | None] = mapped_column(String(255))
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RoomMembership(Base):
    """When the bot joined a room: events from before that are never answered."""

    __tablename__ = "room_memberships"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    join_event_id: Mapped[str | None] = mapped_column(String(255))


class DirectRoom(Base):
    """The DM room the bot uses to reach a user privately."""

    __tablename__ = "direct_rooms"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    room_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeyValue(Base):
    """Small pieces of process state that must survive restarts (e.g. the sync token)."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
