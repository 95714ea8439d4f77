"""Tables of the incidents feature: incidents, their timeline, intakes, thread messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, UTCDateTime

STATUSES = ("reported", "acknowledged", "investigating", "contained", "resolved", "closed")
OPEN_STATUSES = ("reported", "acknowledged", "investigating", "contained")
SEVERITIES = ("low", "medium", "high", "critical")


class Incident(Base):
    """One incident report; its number is ``id`` and it reads ``INC-<id>``."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type_key: Mapped[str] = mapped_column(String(64))
    type_name: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text)
    occurred: Mapped[str | None] = mapped_column(Text)
    affected: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default="reported", index=True)
    reporter: Mapped[str] = mapped_column(String(255))
    assignee: Mapped[str | None] = mapped_column(String(255))
    # The first steps as given to the reporter (the playbook may change later).
    first_steps: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acked_by: Mapped[str | None] = mapped_column(String(255))
    paged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # Outbox transaction id of the triage-room post (its event id is in the outbox row).
    triage_txn_id: Mapped[str | None] = mapped_column(String(255))
    triage_event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # Who on the team rated the severity (None: assumed, from the playbook or "high").
    severity_set_by: Mapped[str | None] = mapped_column(String(255))
    lead: Mapped[str | None] = mapped_column(String(255))
    # A duplicate report: the incident it was merged into (its reporter hears that outcome).
    merged_into: Mapped[int | None] = mapped_column(Integer)
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    update_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when retention (incidents.retention_days) erased the incident's text.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IncidentEvent(Base):
    """One line of an incident's timeline: state change, note, page, escalation, pin."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    # The Matrix event this line came from (a pinned message), to pin it only once.
    source_event_id: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 chain: ``hash`` covers this entry and ``prev_hash`` (the previous entry's hash).
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class IncidentIntake(Base):
    """A guided intake in progress (one per reporter); survives restarts.

    ``incident_id`` is set once the type is answered: the incident is filed (and the
    team alerted) then, and later answers are added to it.
    """

    __tablename__ = "incident_intakes"

    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    step: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))


class IncidentMessage(Base):
    """A triage-room message replying to (or in the thread of) an incident post.

    Kept so a 📌 reaction on it can add its text to the timeline.
    """

    __tablename__ = "incident_messages"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    sender: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentClock(Base):
    """One regulatory deadline of an incident (GDPR 72 h, NIS2 24 h...), from awareness."""

    __tablename__ = "incident_clocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The last reminder stage sent: 0, 50, 90 or 100 (percent of the time used).
    reminded: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    met_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    met_by: Mapped[str | None] = mapped_column(String(255))
