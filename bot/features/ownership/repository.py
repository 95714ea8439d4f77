"""Database access for the responsibilities map (keyword-only, never commits)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.ownership.models import Area, AuditEntry, Miss, Team
from bot.features.ownership.text import name_key
from bot.storage import kv

VERSION_KEY = "ownership.map_version"


async def all_areas(*, session: AsyncSession) -> list[Area]:
    """Every area, ordered by id."""
    return list((await session.scalars(select(Area).order_by(Area.id))).all())


async def all_teams(*, session: AsyncSession) -> list[Team]:
    """Every team, ordered by name."""
    return list((await session.scalars(select(Team).order_by(Team.name))).all())


async def area_by_name(*, session: AsyncSession, name: str) -> Area | None:
    """The area called ``name`` (any case)."""
    return await session.scalar(select(Area).where(Area.name_key == name_key(name)))


async def delete_area(*, session: AsyncSession, area: Area) -> None:
    await session.execute(delete(Area).where(Area.id == area.id))


async def add_audit(
    *,
    session: AsyncSession,
    at: datetime,
    actor: str,
    source: str,
    action: str,
    kind: str,
    subject: str,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
) -> None:
    """Record one change to the map."""
    session.add(
        AuditEntry(
            at=at,
            actor=actor,
            source=source,
            action=action,
            kind=kind,
            subject=subject,
            field=field,
            old_value=old,
            new_value=new,
        )
    )


async def add_audits(*, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Record many changes in one statement (an import of a large map)."""
    if rows:
        await session.execute(insert(AuditEntry), rows)


async def insert_areas(*, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert many new areas in one statement."""
    if rows:
        await session.execute(insert(Area), rows)


_ADD_MISS = insert(Miss.__table__)


async def add_miss(
    *, session: AsyncSession, at: datetime, subject: str, kind: str, near: str | None
) -> None:
    """Record an unanswered question (one Core INSERT on the session's connection: the
    ORM's add and flush cost the event loop about twice the CPU for this one row)."""
    connection = await session.connection()
    values = {"at": at, "subject": subject, "kind": kind, "near": near, "resolved": False}
    await connection.execute(_ADD_MISS, values)


async def map_version(*, session: AsyncSession) -> str | None:
    """A token that changes with every change to the map (cheap: one key look-up)."""
    return await kv.get(session, VERSION_KEY)


async def bump_version(*, session: AsyncSession, now: datetime) -> str:
    """Give the map a new version token, so every process rebuilds its index.

    A random token rather than a counter: a rolled-back change can never leave a
    process believing it has the index of a version that is later reused.
    """
    token = uuid.uuid4().hex
    await kv.put(session, VERSION_KEY, token, now=now)
    await session.flush()
    return token
