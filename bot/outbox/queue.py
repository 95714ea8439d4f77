"""The outbox: messages are committed with the work that produced them, then sent.

This is what makes replies exactly-once. A handler's database changes, the "handled"
mark of the event it answered and the reply itself are committed in one transaction;
only then is the reply sent, with a transaction id derived from the event. A crash
before sending leaves the row to be sent on restart; a crash after sending but before
marking it sent makes the restart resend with the same transaction id, which the
homeserver de-duplicates.

Every destination (a room, or a person whose DM is still to be opened) is its own queue:
a room that refuses or fails holds up only itself. Within a destination, messages go in
order of priority (pages and incident posts first), then in the order queued. Failures
are classified (:mod:`bot.outbox.errors`): a rate limit waits as long as the server
asks, a transient error retries with capped exponential backoff and jitter, a permanent
one — or too many attempts, or too long — makes the row a dead letter, and the triage
room gets one notice naming its destination and kind (never its text).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, system_clock
from bot.logs import log_unexpected
from bot.matrix.content import message_content
from bot.metrics import Metrics
from bot.outbox import store
from bot.outbox.errors import Failure, SendError, Transport
from bot.outbox.kinds import kind_for, priority_for
from bot.outbox.store import DEAD, PENDING, SENT, PendingSend
from bot.storage import Database
from bot.storage.models import DirectRoom, OutboxMessage

if TYPE_CHECKING:
    from bot.config import OutboxSettings

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # one row, one send: the second line behind the fence
STALE_FENCE = "not the active replica (fencing token changed)"


# What a private row keeps once sent: its ids (a reply to it is still recognised).
SCRUBBED_CONTENT: dict[str, bool] = {"scrubbed": True}


def to_the_hour(when: datetime) -> datetime:
    """``when`` without minutes and seconds (kept for private things: no timing link)."""
    return when.replace(minute=0, second=0, microsecond=0)


def txn_id_for(key: str, seq: int = 0) -> str:
    """A transaction id derived from ``key`` (an event id or a scheduler key).

    Hashed so it is short and URL-safe whatever the key contains.
    """
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"hd{digest}.{seq}"


def wall_clock() -> datetime:
    """Now, aware, UTC (retries and leases use the wall clock, never a simulated one)."""
    return datetime.now(UTC)


class Outbox:
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
            from bot.config import OutboxSettings  # bot.config imports the features: lazily

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
        self._gauges_at = 0.0
        self._claims = 0  # rows claimed so far (flush stops when a round claims none)
        self._wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.last_progress = time.monotonic()

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
    ) -> str:
        """Queue one event in the caller's transaction; returns its transaction id.

        Adding the same ``txn_key``/``seq`` twice is a no-op, so callers may retry.
        ``kind`` (page, incident, reply, tip...) sets the priority; by default it is read
        from the key's shape. A ``private`` row (a message to one person; every DM is)
        loses its content, ``dm_user_id`` and destination once sent, and its times are
        kept to the hour.
        """
        if (room_id is None) == (dm_user_id is None):
            raise ValueError("give exactly one of room_id or dm_user_id")
        txn_id = txn_id_for(txn_key, seq)
        existing = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.txn_id == txn_id)
        )
        if existing is None:
            kind = kind or kind_for(txn_key)
            session.add(
                OutboxMessage(
                    txn_id=txn_id,
                    source_event_id=source_event_id,
                    room_id=room_id,
                    dm_user_id=dm_user_id,
                    destination=room_id or dm_user_id,
                    event_type=event_type,
                    content=content,
                    attempts=0,
                    kind=kind,
                    priority=priority_for(kind),
                    state=PENDING,
                    private=private or dm_user_id is not None,
                )
            )
        return txn_id

    @staticmethod
    async def scrub_caused_by(session: AsyncSession, event_id: str) -> None:
        """Empty the sent messages caused by ``event_id`` (it was redacted: no copies)."""
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.source_event_id == event_id, OutboxMessage.sent_at.is_not(None))
            .values(content=SCRUBBED_CONTENT)
            .execution_options(synchronize_session=False)
        )

    def wake(self) -> None:
        """Tell the sender there is something new (call after committing)."""
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
            self.wake()

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

    # -- sending ------------------------------------------------------------------------

    async def _due(self) -> tuple[list[str], datetime | None]:
        """Destinations whose next message may go now, and when the next one falls due."""
        now = self.now()
        async with self.db.sessions() as session:
            heads = (await session.execute(store.heads_query())).all()
        heads.sort(key=lambda h: (-h.priority, h.id))
        due, later = [], None
        for head in heads:
            if head.destination is None or head.destination in self._busy:
                continue
            if head.next_attempt_at is None or head.next_attempt_at <= now:
                due.append(head.destination)
            elif later is None or head.next_attempt_at < later:
                later = head.next_attempt_at
        return due, later

    async def _claim_head(self, destination: str) -> PendingSend | None:
        """Lease the first message of ``destination`` if it is due (fenced)."""
        now = self.now()
        async with self.db.sessions.begin() as session:
            head = (
                await session.execute(
                    store.heads_query().where(OutboxMessage.destination == destination)
                )
            ).first()
            if head is None or (head.next_attempt_at is not None and head.next_attempt_at > now):
                return None
            before = await session.scalar(
                select(OutboxMessage.claimed_by).where(OutboxMessage.id == head.id)
            )
            claim = store.mark(
                head.id, self.fence(), claimed_by=self.instance_id, claimed_until=now + LEASE
            )
            taken = await session.execute(claim.where(store.free_lease(now)))
            if taken.rowcount != 1:
                if not await session.scalar(select(store.fenced(self.fence()))):
                    self.hold(STALE_FENCE)
                return None
            self._claims += 1
            row = await session.get(OutboxMessage, head.id)
            assert row is not None
            # Leased by another replica that is gone: it may have sent this already.
            return store.to_pending(row, in_flight=before not in (None, self.instance_id))

    async def _update(self, row_id: int, **values: Any) -> bool:
        """A fenced update of a pending row; False if this replica may no longer write."""
        async with self.db.sessions.begin() as session:
            result = await session.execute(store.mark(row_id, self.fence(), **values))
            return result.rowcount == 1

    async def _resolve_dm(self, transport: Transport, user_id: str) -> str:
        async with self.db.sessions.begin() as session:
            known = await session.get(DirectRoom, user_id)
            known_room = known.room_id if known is not None else None
        # A remembered DM is checked again: the person may have left, or others joined.
        check = getattr(transport, "direct_room_usable", None)
        if known_room is not None and (check is None or await check(known_room, user_id)):
            return known_room
        room_id = await transport.open_direct_room(user_id)
        async with self.db.sessions.begin() as session:
            row = await session.get(DirectRoom, user_id)
            if row is None:
                session.add(DirectRoom(user_id=user_id, room_id=room_id))
            else:
                row.room_id = room_id
        return room_id

    async def _send(self, transport: Transport, item: PendingSend) -> str:
        room_id = item.room_id
        if room_id is None:
            assert item.dm_user_id is not None
            room_id = await self._resolve_dm(transport, item.dm_user_id)
            await self._update(item.id, room_id=room_id)
        elif item.in_flight and hasattr(transport, "find_sent"):
            # Sent from another device, the homeserver would not de-duplicate a resend.
            found = await transport.find_sent(room_id, item.txn_id)
            if found:
                log.info("%s was sent before the take-over; not sending it again", item.txn_id)
                return str(found)
        return await transport.send_event(room_id, item.event_type, item.content, item.txn_id)

    async def _drain(self, transport: Transport, destination: str) -> bool:
        """Send ``destination``'s due messages in order. False when one must wait."""
        self._busy.add(destination)
        try:
            while not self._holds:
                item = await self._claim_head(destination)
                if item is None:
                    return True
                try:
                    event_id = await self._send(transport, item)
                except SendError as exc:
                    if not await self._failed(item, exc):
                        return False
                    continue
                except Exception as exc:  # a bug must not leave the row leased
                    log_unexpected(log, exc, "sending %s failed", item.txn_id)
                    await self._failed(item, SendError(f"unexpected {type(exc).__name__}"))
                    return False
                if not event_id:  # never "sent" without the homeserver's event id
                    await self._failed(item, SendError("no event id in the response"))
                    return False
                sent: dict[str, Any] = {
                    "state": SENT,
                    "sent_at": self.clock(),
                    "sent_event_id": event_id,
                    "attempts": item.attempts + 1,
                    "claimed_until": None,
                }
                if item.private:
                    hour = to_the_hour(self.clock())
                    sent.update(
                        content=SCRUBBED_CONTENT,
                        dm_user_id=None,
                        destination=None,
                        sent_at=hour,
                        created_at=hour,
                        claimed_by=None,
                    )
                if not await self._update(item.id, **sent):
                    log.error("sent %s but lost the active role before marking it", item.txn_id)
                    self.hold(STALE_FENCE)
                    return False
                self.metrics.sent.inc()
                self.last_progress = time.monotonic()
            return False
        finally:
            self._busy.discard(destination)

    async def _failed(self, item: PendingSend, exc: SendError) -> bool:
        """Record a failed send. True if the destination may go on with its next message."""
        failure = exc.failure
        self.metrics.send_failures.labels(failure.value).inc()
        now = self.now()
        if failure is Failure.AUTH:
            # Not the row's fault: keep it exactly as it was and stop sending everywhere.
            await self._update(item.id, claimed_by=None, claimed_until=None)
            self.hold("session")
            if self.on_auth_error is not None:
                self.on_auth_error()
            return False
        attempts = item.attempts + (0 if failure is Failure.RATE_LIMITED else 1)
        too_old = now - item.created_at >= self.settings.give_up_after
        if failure is Failure.PERMANENT or attempts >= self.settings.max_attempts or too_old:
            await self._dead_letter(item, attempts, exc.reason)
            return True
        if failure is Failure.RATE_LIMITED:
            delay = (exc.retry_after or 5.0) + random.uniform(0, 0.25)
        else:
            cap = self.settings.backoff_max.total_seconds()
            base = self.settings.backoff_base.total_seconds()
            delay = min(cap, base * 2 ** max(attempts - 1, 0)) * random.uniform(0.5, 1.0)
        log.warning(
            "send %s to %s failed (%s: %s); retry in %.1fs",
            item.txn_id,
            item.destination,
            failure.value,
            exc.reason,
            delay,
        )
        await self._update(
            item.id,
            attempts=attempts,
            last_error=exc.reason[:255],
            next_attempt_at=now + timedelta(seconds=delay),
            claimed_by=None,
            claimed_until=None,
        )
        return False

    async def _dead_letter(self, item: PendingSend, attempts: int, reason: str) -> None:
        """Set the row aside and tell the triage room once (destination and kind only)."""
        triage = self.triage_room()
        async with self.db.sessions.begin() as session:
            result = await session.execute(
                store.mark(
                    item.id,
                    self.fence(),
                    state=DEAD,
                    dead_at=self.now(),
                    attempts=attempts,
                    last_error=reason[:255],
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            if result.rowcount != 1:
                return
            if triage is not None and item.kind != "dead_letter":
                text = (
                    f"⚠ A message could not be delivered and was set aside: {item.kind} to "
                    f"{item.destination} (outbox #{item.id}, {attempts} attempt(s), last "
                    f"error: {reason[:120]}). Operators: helpdesk-bot outbox list | retry | drop."
                )
                await self.add(
                    session,
                    txn_key=f"outbox:dead:{item.txn_id}",
                    room_id=triage,
                    content=message_content(text),
                    kind="dead_letter",
                )
        log.error(
            "gave up on %s (%s to %s) after %d attempt(s): %s",
            item.txn_id,
            item.kind,
            item.destination,
            attempts,
            reason,
        )
        self.metrics.dead_letters.inc()
        self.last_progress = time.monotonic()
        self.wake()

    async def _refresh_gauges(self, *, at_most_every: float = 0.0) -> None:
        now = time.monotonic()
        if now - self._gauges_at < at_most_every:
            return
        self._gauges_at = now
        self.metrics.outbox_pending.set(await self.pending_count())
        self.metrics.outbox_dead.set(await self.dead_count())

    async def flush(self, transport: Transport) -> bool:
        """Send everything due now, every destination at once (tests, shutdown).

        Returns:
            False if a message must wait (a failure, a rate limit, a hold).
        """
        ok = True
        while not self._holds:
            due, _ = await self._due()
            if not due:
                break
            claims = self._claims
            results = await asyncio.gather(*(self._drain(transport, d) for d in due))
            ok = ok and all(results)
            if self._claims == claims:  # leased elsewhere: nothing this round could take
                break
        await self._refresh_gauges()
        return ok and not self._holds

    async def run(self, transport: Transport) -> None:
        """The sender (an owned task): one worker per due destination, at most
        ``outbox.concurrency`` at once; woken by new rows, finished workers and retry times.
        """
        workers: dict[str, asyncio.Task[bool]] = {}
        try:
            while True:
                self._wake.clear()
                later: datetime | None = None
                try:
                    if not self._holds:
                        due, later = await self._due()
                        free = self.settings.concurrency - len(workers)
                        for destination in [d for d in due if d not in workers][:free]:
                            workers[destination] = asyncio.create_task(
                                self._drain(transport, destination), name=f"outbox:{destination}"
                            )
                        if not due and not workers:
                            self.last_progress = time.monotonic()
                            self.idle.set()
                        else:
                            self.idle.clear()
                        await self._refresh_gauges(at_most_every=1.0)  # not per message
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log_unexpected(log, exc, "outbox scan failed")
                    later = self.now() + timedelta(seconds=2)
                timeout = 30.0
                if later is not None:
                    timeout = min(timeout, max((later - self.now()).total_seconds(), 0.05))
                waker = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait(
                    {waker, *workers.values()},
                    timeout=timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waker.cancel()
                for destination, task in list(workers.items()):
                    if task.done():
                        del workers[destination]
                        if not task.cancelled() and task.exception() is not None:
                            log_unexpected(log, task.exception(), "outbox worker failed")
        finally:
            for task in workers.values():
                task.cancel()
            if workers:
                await asyncio.gather(*workers.values(), return_exceptions=True)
