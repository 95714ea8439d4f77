"""The outbox: messages are committed with the work that produced them, then sent.

This is what makes replies exactly-once. A handler's database changes, the "handled"
mark of the event it answered and the reply itself are committed in one transaction;
only then is the reply sent, with a transaction id derived from the event. A crash
before sending leaves the row to be sent on restart; a crash after sending but before
marking it sent makes the restart resend with the same transaction id, which the
homeserver de-duplicates.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, system_clock
from bot.logs import log_unexpected
from bot.metrics import Metrics
from bot.storage import Database
from bot.storage.models import DirectRoom, OutboxMessage

log = logging.getLogger(__name__)

MAX_PERMANENT_FAILURES = 5
LEASE = timedelta(seconds=60)


class SendError(Exception):
    """Sending failed. ``permanent`` errors (forbidden, unknown room) are not retried forever."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Transport(Protocol):
    """What the outbox needs from the Matrix layer."""

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        """Send one event; return its event id or raise :class:`SendError`."""
        ...

    async def open_direct_room(self, user_id: str) -> str:
        """Create a DM with ``user_id`` and return its room id, or raise SendError."""
        ...


def txn_id_for(key: str, seq: int = 0) -> str:
    """A transaction id derived from ``key`` (an event id or a scheduler key).

    Hashed so it is short and URL-safe whatever the key contains.
    """
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"hd{digest}.{seq}"


@dataclass(frozen=True)
class PendingSend:
    id: int
    txn_id: str
    room_id: str | None
    dm_user_id: str | None
    event_type: str
    content: dict[str, Any]
    attempts: int
    private: bool = False


# What a private row keeps once sent: its ids (a reply to it is still recognised).
SCRUBBED_CONTENT: dict[str, bool] = {"scrubbed": True}


def to_the_hour(when: datetime) -> datetime:
    """``when`` without minutes and seconds (kept for private things: no timing link)."""
    return when.replace(minute=0, second=0, microsecond=0)


class Outbox:
    """Queue messages inside a transaction; a single owned task sends them in order."""

    def __init__(
        self,
        db: Database,
        *,
        metrics: Metrics | None = None,
        clock: Clock = system_clock,
        instance_id: str | None = None,
    ):
        self.db = db
        # Distinct per replica (the app uses host and store path): leases name their owner.
        self.instance_id = instance_id or f"{socket.gethostname()}:{os.getpid()}"
        self.metrics = metrics or Metrics()
        self.clock = clock
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()

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
        private: bool = False,
    ) -> str:
        """Queue one event in the caller's transaction; returns its transaction id.

        Adding the same ``txn_key``/``seq`` twice is a no-op, so callers may retry.
        A ``private`` row (a message to one person) loses its content and ``dm_user_id``
        once sent, and its times are kept to the hour.
        """
        if (room_id is None) == (dm_user_id is None):
            raise ValueError("give exactly one of room_id or dm_user_id")
        txn_id = txn_id_for(txn_key, seq)
        existing = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.txn_id == txn_id)
        )
        if existing is None:
            session.add(
                OutboxMessage(
                    txn_id=txn_id,
                    source_event_id=source_event_id,
                    room_id=room_id,
                    dm_user_id=dm_user_id,
                    event_type=event_type,
                    content=content,
                    attempts=0,
                    private=private or dm_user_id is not None,
                )
            )
        return txn_id

    @staticmethod
    async def scrub_caused_by(session: AsyncSession, event_id: str) -> None:
        """Empty the messages caused by ``event_id`` (it was redacted: keep no copies).

        Sent ones now; those still queued go out and are emptied once sent (private).
        """
        caused = OutboxMessage.source_event_id == event_id
        await session.execute(
            update(OutboxMessage)
            .where(caused, OutboxMessage.sent_at.is_not(None))
            .values(content=SCRUBBED_CONTENT)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(OutboxMessage)
            .where(caused, OutboxMessage.sent_at.is_(None))
            .values(private=True)
            .execution_options(synchronize_session=False)
        )

    def wake(self) -> None:
        """Tell the sender there is something new (call after committing)."""
        self._wake.set()

    async def pending_count(self) -> int:
        async with self.db.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None))
                )
                or 0
            )

    async def _claim(self, limit: int = 50) -> list[PendingSend]:
        """Lease up to ``limit`` unsent rows to this instance, oldest first.

        Each row is taken with a conditional UPDATE, so two replicas sharing a database
        never send the same row at once (on SQLite and PostgreSQL alike). Leases use the
        wall clock: a crashed replica's rows are taken over once its lease runs out.
        """
        now = datetime.now(UTC)
        free = or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)
        async with self.db.sessions.begin() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None), free)
                    .order_by(OutboxMessage.id)
                    .limit(limit)
                )
            ).all()
            batch = []
            for r in rows:
                taken = await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == r.id, OutboxMessage.sent_at.is_(None), free)
                    .values(claimed_by=self.instance_id, claimed_until=now + LEASE)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:
                    batch.append(
                        PendingSend(
                            r.id,
                            r.txn_id,
                            r.room_id,
                            r.dm_user_id,
                            r.event_type,
                            r.content,
                            r.attempts,
                            bool(r.private),
                        )
                    )
            return batch

    async def release_own_leases(self) -> None:
        """At start: rows this instance had leased before a crash are free again."""
        async with self.db.sessions.begin() as session:
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.claimed_by == self.instance_id, OutboxMessage.sent_at.is_(None)
                )
                .values(claimed_by=None, claimed_until=None)
            )

    async def _resolve_dm(self, transport: Transport, user_id: str) -> str:
        async with self.db.sessions.begin() as session:
            known = await session.get(DirectRoom, user_id)
            if known is not None:
                return known.room_id
        room_id = await transport.open_direct_room(user_id)
        async with self.db.sessions.begin() as session:
            if await session.get(DirectRoom, user_id) is None:
                session.add(DirectRoom(user_id=user_id, room_id=room_id))
        return room_id

    async def _mark(self, row_id: int, **values: Any) -> None:
        async with self.db.sessions.begin() as session:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values)
            )

    async def _scrub_if_made_private(self, row_id: int) -> None:
        """A row made private while in flight (its cause was redacted): empty it now."""
        async with self.db.sessions.begin() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id, OutboxMessage.private.is_(True))
                .values(content=SCRUBBED_CONTENT, dm_user_id=None)
                .execution_options(synchronize_session=False)
            )

    async def _release(self, batch: list[PendingSend]) -> None:
        """Give back the leases of a batch we stopped sending (kept in order for a retry)."""
        async with self.db.sessions.begin() as session:
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_([item.id for item in batch]),
                    OutboxMessage.claimed_by == self.instance_id,
                    OutboxMessage.sent_at.is_(None),
                )
                .values(claimed_by=None, claimed_until=None)
            )

    async def flush(self, transport: Transport) -> bool:
        """Send everything pending, in order. Returns False if a transient error stopped it."""
        while True:
            self.metrics.outbox_pending.set(await self.pending_count())  # the real backlog
            batch = await self._claim()
            if not batch:
                return True
            for item in batch:
                try:
                    room_id = item.room_id
                    if room_id is None:
                        assert item.dm_user_id is not None
                        room_id = await self._resolve_dm(transport, item.dm_user_id)
                        await self._mark(item.id, room_id=room_id)
                    event_id = await transport.send_event(
                        room_id, item.event_type, item.content, item.txn_id
                    )
                except SendError as exc:
                    self.metrics.send_failures.labels(
                        "permanent" if exc.permanent else "transient"
                    ).inc()
                    if not exc.permanent:
                        log.warning("send %s failed (%s); will retry", item.txn_id, exc.reason)
                        await self._mark(
                            item.id,
                            attempts=item.attempts + 1,
                            last_error=exc.reason[:255],
                            claimed_until=None,
                        )
                        await self._release(batch)
                        return False
                    attempts = item.attempts + 1
                    gave_up = attempts >= MAX_PERMANENT_FAILURES
                    log.error(
                        "send %s failed permanently (%s)%s",
                        item.txn_id,
                        exc.reason,
                        "; giving up" if gave_up else "",
                    )
                    values: dict[str, Any] = {
                        "attempts": attempts,
                        "last_error": exc.reason[:255],
                        "claimed_until": None,
                    }
                    if gave_up:
                        values["sent_at"] = self.clock()
                    await self._mark(item.id, **values)
                    if not gave_up:
                        await self._release(batch)
                        return False
                    continue
                sent: dict[str, Any] = {
                    "sent_at": self.clock(),
                    "sent_event_id": event_id,
                    "attempts": item.attempts + 1,
                    "claimed_until": None,  # a batch's shared lease time would tie its rows
                }
                if item.private:
                    hour = to_the_hour(self.clock())
                    sent.update(
                        content=SCRUBBED_CONTENT,
                        dm_user_id=None,
                        sent_at=hour,
                        created_at=hour,
                        claimed_by=None,
                    )
                await self._mark(item.id, **sent)
                if not item.private:
                    await self._scrub_if_made_private(item.id)
                self.metrics.sent.inc()

    async def run(self, transport: Transport, *, max_backoff: float = 30.0) -> None:
        """The sender loop (an owned task): flush on wake-up, back off on failures."""
        backoff = 0.5
        while True:
            self._wake.clear()
            try:
                ok = await self.flush(transport)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_unexpected(log, exc, "outbox flush failed")
                ok = False
            if ok:
                backoff = 0.5
                self.idle.set()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=30)
                except TimeoutError:
                    pass
                self.idle.clear()
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
