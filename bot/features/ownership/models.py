"""Tables of the ownership feature: areas, teams and the audit trail of every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.base import Base, UTCDateTime, utcnow
from bot.storage.models import BigIntId


class Area(Base):
    """A system, process or risk, with who owns it and how to reach them.

    Lists (aliases, owners, backups, links) are JSON columns: they are small, always read
    with their area, and matching runs on an in-memory index, never in SQL.
    """

    __tablename__ = "ownership_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    # Case-folded name: area names are unique whatever their case.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    owners: Mapped[list[str]] = mapped_column(JSON, default=list)
    backups: Mapped[list[str]] = mapped_column(JSON, default=list)
    contact: Mapped[str] = mapped_column(Text, default="")
    security: Mapped[bool] = mapped_column(Boolean, default=False)
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_verified: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Situations and verbs the area answers for ("clicked a link", "leaked").
    covers: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    # Who last verified it (a Matrix id, "cli:<login>" or "reconfirmed:<owner>").
    verified_by: Mapped[str | None] = mapped_column(String(255))
    # Where the entry lives in git: the file it was last imported from and its line.
    source_file: Mapped[str | None] = mapped_column(String(500))
    source_line: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(255), default="")


class Team(Base):
    """A team and its security champion ("each team has a security contact")."""

    __tablename__ = "ownership_teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    security_champion: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """One change to the map: who, when, what, old value, new value (JSON-encoded)."""

    __tablename__ = "ownership_audit"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  # "chat" | "import"
    action: Mapped[str] = mapped_column(String(16))  # "create" | "update" | "remove"
    kind: Mapped[str] = mapped_column(String(8))  # "area" | "team"
    subject: Mapped[str] = mapped_column(String(200), index=True)
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)


class Reconfirmation(Base):
    """One "still the owner of X?" DM to one owner, and what came of it.

    ``status``: pending (sent, no answer) | yes (👍: verified) | no (👎) | proposed (a
    name given) | accepted / dismissed (the security team decided on a no/proposed).
    """

    __tablename__ = "ownership_reconfirmations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    area_name: Mapped[str] = mapped_column(String(200), index=True)
    owner: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    room_id: Mapped[str | None] = mapped_column(String(255))
    event_id: Mapped[str | None] = mapped_column(String(255), index=True)
    txn_id: Mapped[str | None] = mapped_column(String(255), index=True)  # the DM's outbox row
    status: Mapped[str] = mapped_column(String(16), default="pending")
    proposed_owner: Mapped[str | None] = mapped_column(String(255))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(255))


class Miss(Base):
    """A question the map could not answer: its subject words only, never the sender."""

    __tablename__ = "ownership_misses"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "fallback" | "ambiguous"
    near: Mapped[str | None] = mapped_column(String(200))  # the closest area, if any
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
