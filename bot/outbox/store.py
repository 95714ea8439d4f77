"""The outbox's SQL: heads of the per-destination queues, claims and fenced marks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.storage.dialect import dialect_of, insert_on
from bot.storage.models import ACTIVE_LEASE, LeaderLease, OutboxMessage

PENDING, SENT, DEAD, DROPPED = "pending", "sent", "dead", "dropped"

LEASE = timedelta(minutes=5)  # one row, one send: the second line behind the fence
STALE_FENCE = "not the active replica (fencing token changed)"


# What a private row keeps once sent: its ids (a reply to it is still recognised).
SCRUBBED_CONTENT: dict[str, bool] = {"scrubbed": True}


def to_the_hour(when: datetime) -> datetime:
    """``when`` without minutes and seconds (kept for private things: no timing link)."""
    return when.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class PendingSend:
    """One claimed row, as the sender needs it."""

    id: int
    txn_id: str
    room_id: str | None
    dm_user_id: str | None
    event_type: str
    content: dict[str, Any]
    attempts: int
    destination: str
    kind: str
    created_at: datetime
    in_flight: bool = False  # another replica was sending it when it stopped
    private: bool = False  # a message to one person: scrubbed once sent


def insert_once(session: AsyncSession) -> Any:
    """An INSERT of one outbox row that does nothing if its ``txn_id`` is already queued.

    ``ON CONFLICT (txn_id) DO NOTHING`` on both dialects: one statement instead of a read
    then a write, and two transactions adding the same key never fail on the constraint.
    Built once per dialect and executed with the row as its parameters (see ``Outbox.add``).
    """
    return _insert_once(dialect_of(session))


@cache
def _insert_once(dialect: str) -> Any:
    return insert_on(dialect, OutboxMessage).on_conflict_do_nothing(index_elements=["txn_id"])


@cache
def _not_behind() -> ColumnElement[bool]:
    """No pending row of the same destination goes before this one."""
    other = aliased(OutboxMessage)
    ahead = exists().where(
        other.destination == OutboxMessage.destination,
        other.state == PENDING,
        or_(
            other.priority > OutboxMessage.priority,
            and_(other.priority == OutboxMessage.priority, other.id < OutboxMessage.id),
        ),
    )
    return ~ahead


@cache
def heads_query() -> Any:
    """The first pending row of every destination (highest priority, then oldest).

    Built once: statements are immutable (``.where()`` makes a new one), and building
    this one costs milliseconds of CPU, on every wake of the sender.
    """
    return select(
        OutboxMessage.destination,
        OutboxMessage.priority,
        OutboxMessage.id,
        OutboxMessage.next_attempt_at,
    ).where(OutboxMessage.state == PENDING, _not_behind())


# Core statements for the sender's path, built once: building and hashing an ORM
# statement (the head read has a correlated NOT EXISTS) cost more CPU on the event loop
# than running it. Their values are execute parameters.


def _fence_is_current(check: bool) -> ColumnElement[bool]:
    """``:fence_token`` is the active replica's token (``check`` False: no election)."""
    if not check:
        return true()
    current = select(LeaderLease.fence).where(LeaderLease.name == ACTIVE_LEASE).scalar_subquery()
    return current == bindparam("fence_token")


def fence_params(token: int | None) -> dict[str, int]:
    """The parameters of a statement built with ``_fence_is_current(token is not None)``."""
    return {} if token is None else {"fence_token": token}


@cache
def head_read(check_fence: bool) -> Any:
    """The first pending row of ``:destination`` (all columns), and ``current``: whether
    the fencing token is current (see :func:`fence_params`)."""
    table = OutboxMessage.__table__
    other = table.alias("ahead")
    ahead = exists().where(
        other.c.destination == table.c.destination,
        other.c.state == PENDING,
        or_(
            other.c.priority > table.c.priority,
            and_(other.c.priority == table.c.priority, other.c.id < table.c.id),
        ),
    )
    current = _fence_is_current(check_fence).label("current")
    return select(*table.c, current).where(
        table.c.state == PENDING, ~ahead, table.c.destination == bindparam("destination")
    )


@cache
def fenced_update(check_fence: bool) -> Any:
    """An UPDATE of one pending row, effective only while the fencing token is current.

    Parameters: ``:row_id``, the fence (:func:`fence_params`), and the values to set
    (column names as keys).
    """
    table = OutboxMessage.__table__
    return update(table).where(
        table.c.id == bindparam("row_id"), table.c.state == PENDING, _fence_is_current(check_fence)
    )


@cache
def lease_update(check_fence: bool) -> Any:
    """:func:`fenced_update` of a row whose lease is free at ``:now`` (PostgreSQL's claim)."""
    table = OutboxMessage.__table__
    free = or_(table.c.claimed_until.is_(None), table.c.claimed_until < bindparam("now"))
    return fenced_update(check_fence).where(free)


@cache
def fence_read(check_fence: bool) -> Any:
    """Whether the fencing token is current (one row, one column)."""
    return select(_fence_is_current(check_fence))


def to_pending(row: Any, *, in_flight: bool = False) -> PendingSend:
    """The claimed row as a plain value."""
    return PendingSend(
        id=row.id,
        txn_id=row.txn_id,
        room_id=row.room_id,
        dm_user_id=row.dm_user_id,
        event_type=row.event_type,
        content=row.content,
        attempts=row.attempts,
        destination=row.destination or row.room_id or row.dm_user_id or "",
        kind=row.kind,
        created_at=row.created_at,
        in_flight=in_flight,
        private=bool(row.private),
    )
