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
