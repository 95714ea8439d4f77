"""Tables of the tickets feature: tickets, their comments, audit trail and bot messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.ids import CaseRef
from bot.storage.base import Base, UTCDateTime


class Ticket(Base):
    """One help request. ``id`` is the number shown as ``T-<id>``.

    For an anonymous ticket ``reporter_id`` is NULL: only ``reporter_room_id`` (the DM used
    to relay replies) and ``reporter_hash`` (a keyed hash, for ``!mytickets``) are kept.
    ``text`` is NULL once purged by the retention job.
    """

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), default="help")
    tags: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(32), default="new", index=True)
    resolution: Mapped[str | None] = mapped_column(String(32))
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_id: Mapped[str | None] = mapped_column(String(255), index=True)
    reporter_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    reporter_room_id: Mapped[str | None] = mapped_column(String(255))
    # The outbox transaction of the first DM, when the DM room was not known yet.
    reporter_dm_txn: Mapped[str | None] = mapped_column(String(255))
    # Anonymous tickets: the reporter's user id and DM room, encrypted with a key that is
    # never stored in the database (see anonymity.py); NULL without follow-up.
    reporter_route: Mapped[str | None] = mapped_column(Text)
    # Keyed hash of the message the text came from (a redaction of it erases the text).
    source_hash: Mapped[str | None] = mapped_column(String(64))
    filed_in: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    nudges_sent: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def ref(self) -> str:
        return str(CaseRef.ticket(self.id))


class TicketComment(Base):
    """A reporter comment, a reply relayed to the reporter, or an internal team note."""

    __tablename__ = "ticket_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # comment | reply | note
    # NULL for the comments of an anonymous reporter.
    author: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source_hash: Mapped[str | None] = mapped_column(String(64))


class TicketEvent(Base):
    """The audit trail: who did what, when (never the ticket's text)."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(255), default="")


class TicketMessage(Base):
    """A bot message sent to the reporter about a ticket (by outbox transaction id).

    A reporter's reply to any of them becomes a comment on that ticket.
    """

    __tablename__ = "ticket_messages"

    txn_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
