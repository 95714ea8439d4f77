"""The outbox: messages are committed with the work that produced them, then sent.

This is what makes replies exactly-once. A handler's database changes, the "handled"
mark of the event it answered and the reply itself are committed in one transaction;
only then is the reply sent, with a transaction id derived from the event. A crash
before sending leaves the row to be sent on restart; a crash after sending but before
marking it sent makes the restart resend with the same transaction id, which the
homeserver de-duplicates.

Every destination (a room, or a person whose DM is still to be opened) is its own queue:
a room that refuses or fails holds up only itself. Within a destination, messages go in
order of priority (pages and incident posts first), then in the order queued.

This module is the posting side (queue a row in the caller's transaction, hold, count);
the sender loop is :mod:`bot.outbox.delivery`, the retry and dead-letter policy
:mod:`bot.outbox.retry`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, system_clock
from bot.config import OutboxSettings
from bot.metrics import Metrics
from bot.outbox import hints
from bot.outbox.early import note_added
from bot.outbox.errors import Transport
from bot.outbox.kinds import kind_for, priority_for
from bot.outbox.running import Running
from bot.outbox.store import (
    DEAD,
    LEASE,
    PENDING,
    SCRUBBED_CONTENT,
    STALE_FENCE,
    insert_once,
    to_the_hour,
)
from bot.storage import Database
from bot.storage.models import OutboxMessage

__all__ = ["LEASE", "SCRUBBED_CONTENT", "STALE_FENCE", "Outbox", "to_the_hour", "txn_id_for"]

log = logging.getLogger(__name__)


def txn_id_for(key: str, seq: int = 0) -> str:
    """A transaction id derived from ``key`` (an event id or a scheduler key).

    Hashed so it is short and URL-safe whatever the key contains.
    """
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"hd{digest}.{seq}"


def wall_clock() -> datetime:
    """Now, aware, UTC (retries and leases use the wall clock, never a simulated one)."""
    return datetime.now(UTC)


class Outbox(Running):
    """Queue messages inside a transaction; owned tasks send them, one per destination."""

    def __init__(
        self,
        db: Database,
        *,
        metrics: Metrics | None = None,
        clock: Clock = system_clock,
        instance_id: str | None = None,
        settings: OutboxSettings | None = None,
        now: Callable[[], datetime] = wall_clock,
    ):
        self.db = db
        # Distinct per replica (the app uses host and store path): leases name their owner.
        self.instance_id = instance_id or f"{socket.gethostname()}:{os.getpid()}"
        self.metrics = metrics or Metrics()
        self.clock = clock
        if settings is None:
            settings = OutboxSettings()
        self.settings = settings
        self.now = now
        # The active replica's fencing token (None: no election, nothing to fence).
        self.fence: Callable[[], int | None] = lambda: None
        # Where dead-letter notices go (the triage room's id, once known).
        self.triage_room: Callable[[], str | None] = lambda: None
        # Told when the homeserver says the session is gone (M_UNKNOWN_TOKEN).
        self.on_auth_error: Callable[[], None] | None = None
        self._holds: set[str] = set()
        self._busy: set[str] = set()
        self._hinted: set[str] = set()
        self._transport: Transport | None = None  # while run() sends (early sends)
        self._early: set[asyncio.Task[None]] = set()
        self._sending = 0  # requests in flight (Delivery.sends_done)
        self._no_sends = asyncio.Event()
        self._no_sends.set()
        self._rescan = True
        self._claims = 0  # rows claimed so far (flush stops when a round claims none)
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.last_progress = time.monotonic()
        hints.register(self)

    # -- queueing (inside the caller's transaction) ----------------------------------

    @staticmethod
    async def add(
        session: AsyncSession,
        *,
        txn_key: str,
        seq: int = 0,
        content: dict[str, Any],
        room_id: str | None = None,
        dm_user_id: str | None = None,
        event_type: str = "m.room.message",
        source_event_id: str | None = None,
        kind: str | None = None,
        private: bool = False,
        subject: str | None = None,
        preview: str | None = None,
    ) -> str:
        """Queue one event in the caller's transaction; returns its transaction id.

        Adding the same ``txn_key``/``seq`` twice is a no-op, so callers may retry.
        ``kind`` (page, incident, reply, tip...) sets the priority; by default it is read
        from the key's shape. A ``private`` row (a message to one person; every DM is)
        loses its content, ``dm_user_id``, destination and preview once sent, and its
        times are kept to the hour. ``subject`` and ``preview`` (see
        :mod:`bot.messaging`) survive housekeeping.
        """
        if (room_id is None) == (dm_user_id is None):
            raise ValueError("give exactly one of room_id or dm_user_id")
        txn_id = txn_id_for(txn_key, seq)
        kind = kind or kind_for(txn_key)
        row = {
            "txn_id": txn_id,
            "source_event_id": source_event_id,
            "room_id": room_id,
            "dm_user_id": dm_user_id,
            "destination": room_id or dm_user_id,
            "event_type": event_type,
            "content": content,
            "attempts": 0,
            "kind": kind,
            "priority": priority_for(kind),
            "state": PENDING,
            "private": private or dm_user_id is not None,
            "subject": subject,
            "preview": preview[:500] if preview is not None else None,
        }
        # One statement: the unique txn_id makes a second add of the same key a no-op.
        # Core, with the row as parameters: the statement is built and compiled once (an
        # ORM execute of ``.values(row)`` cost twice the CPU: 1.3 -> 0.6 ms per row).
        connection = await session.connection()
        await connection.execute(insert_once(session), row)
        hints.note(session, room_id or dm_user_id or "")  # handed to the sender at commit
        note_added(session, txn_id)
        return txn_id

    @staticmethod
    async def scrub_caused_by(session: AsyncSession, event_id: str) -> None:
        """Empty the sent messages caused by ``event_id`` (it was redacted: no copies)."""
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.source_event_id == event_id, OutboxMessage.sent_at.is_not(None))
            .values(content=SCRUBBED_CONTENT, preview=None)
            .execution_options(synchronize_session=False)
        )

    def wake(self, *, scan: bool = False) -> None:
        """Tell the sender there is something new (call after committing).

        Rows queued by :meth:`add` in this process need no wake: their destinations are
        handed to the sender when their transaction commits (:mod:`bot.outbox.hints`).
        ``scan`` makes it look at every queue's head (rows made due some other way).
        """
        if scan:
            self._rescan = True
        self._wake.set()

    def committed(self, engine: Any, destinations: Iterable[str]) -> None:
        """A transaction on ``engine`` queued rows to ``destinations`` and committed."""
        if engine is not None and engine is not self.db.engine.sync_engine:
            return  # another database (another Outbox in this process)
        self._hinted.update(destinations)
        self._wake.set()

    # -- holding (leadership lost, session gone) -------------------------------------

    def hold(self, reason: str) -> None:
        """Stop sending until :meth:`release` of the same reason (rows are kept)."""
        if reason not in self._holds:
            log.warning("outbox on hold: %s", reason)
        self._holds.add(reason)

    def release(self, reason: str) -> None:
        """Undo :meth:`hold`."""
        if reason in self._holds:
            self._holds.discard(reason)
            log.info("outbox resumed (%s)", reason)
            self.last_progress = time.monotonic()
            self.wake(scan=True)

    @property
    def held(self) -> frozenset[str]:
        """Why the outbox is not sending (empty when it is)."""
        return frozenset(self._holds)

    def moving(self) -> bool:
        """Not on hold, and sent, gave up or found nothing due recently."""
        stalled = time.monotonic() - self.last_progress > self.settings.stall_after.total_seconds()
        return not self._holds and not stalled

    # -- counts -------------------------------------------------------------------------

    async def pending_count(self) -> int:
        """Rows still to be sent (dead letters not included)."""
        return await self._count(PENDING)

    async def dead_count(self) -> int:
        """Rows given up on, waiting for an operator."""
        return await self._count(DEAD)

    async def _count(self, state: str) -> int:
        async with self.db.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.state == state)
                )
                or 0
            )

    async def release_leases(self) -> None:
        """On becoming the active sender: no other sender runs, so every lease is stale.

        ``claimed_by`` stays: it tells which rows another replica was sending when it
        stopped (they are looked for in their room before being sent again).
        """
        async with self.db.sessions.begin() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.state == PENDING, OutboxMessage.claimed_until.is_not(None))
                .values(claimed_until=None)
            )

    release_own_leases = release_leases
