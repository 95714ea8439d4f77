"""The sender loop: one worker per due destination, each draining its queue in order.

A worker leases the head of its destination's queue (fenced by the active replica's
token; on SQLite, one process, it only reads it), sends it with its derived transaction
id, and marks it sent; failures go to
:class:`bot.outbox.retry.Retries`. :meth:`Delivery.run` is the owned task that starts
workers as destinations fall due; :meth:`Delivery.flush` sends everything due now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.clock import Clock
from bot.logs import log_unexpected
from bot.metrics import Metrics
from bot.outbox import store
from bot.outbox.errors import SendError, Transport
from bot.outbox.retry import Retries
from bot.outbox.store import LEASE, SCRUBBED_CONTENT, SENT, STALE_FENCE, PendingSend, to_the_hour
from bot.storage import Database
from bot.storage.models import DirectRoom

if TYPE_CHECKING:
    from bot.config import OutboxSettings

log = logging.getLogger(__name__)

GAUGE_SECONDS = 5.0  # how often helpdesk_outbox_pending/_dead are counted while running


class Delivery(Retries):
    """The sending half of :class:`bot.outbox.Outbox` (its state is set up there)."""

    db: Database
    instance_id: str
    metrics: Metrics
    clock: Clock
    settings: OutboxSettings
    now: Callable[[], datetime]
    fence: Callable[[], int | None]
    _holds: set[str]
    _busy: set[str]
    _hinted: set[str]
    _claims: int
    _wake: asyncio.Event
    _sending: int
    _no_sends: asyncio.Event
    idle: asyncio.Event
    last_progress: float

    def hold(self, reason: str) -> None:  # pragma: no cover - defined by Outbox
        raise NotImplementedError

    async def pending_count(self) -> int:  # pragma: no cover - defined by Outbox
        raise NotImplementedError

    async def dead_count(self) -> int:  # pragma: no cover - defined by Outbox
        raise NotImplementedError

    async def _due(self) -> tuple[list[str], datetime | None]:
        """Destinations whose next message may go now, and when the next one falls due."""
        now = self.now()
        async with self.db.sessions() as session:
            heads = (await session.execute(store.heads_query())).all()
        heads.sort(key=lambda h: (-h.priority, h.id))
        due, later = [], None
        for head in heads:
            if head.destination is None:
                continue
            if head.destination in self._busy:  # looked at again once its worker is done
                self._hinted.add(head.destination)
                continue
            if head.next_attempt_at is None or head.next_attempt_at <= now:
                due.append(head.destination)
            elif later is None or head.next_attempt_at < later:
                later = head.next_attempt_at
        return due, later

    async def _claim_head(self, destination: str) -> PendingSend | None:
        """Lease the first message of ``destination`` if it is due (fenced).

        PostgreSQL only: the lease keeps a replica that takes over from sending what the
        old one is still sending. SQLite has no lease (:meth:`_head`).
        """
        if self.db.dialect == "sqlite":
            return await self._head(destination)
        now, token = self.now(), self.fence()
        fence = store.fence_params(token)
        async with self.db.relaxed_sessions.begin() as session:
            read = store.head_read(token is not None)
            row = (await session.execute(read, {"destination": destination, **fence})).first()
            if row is None or (row.next_attempt_at is not None and row.next_attempt_at > now):
                return None
            claim = {
                "row_id": row.id,
                "now": now,
                "claimed_by": self.instance_id,
                "claimed_until": now + LEASE,
                **fence,
            }
            taken = await session.execute(store.lease_update(token is not None), claim)
            if taken.rowcount != 1:
                if not await session.scalar(store.fence_read(token is not None), fence):
                    self.hold(STALE_FENCE)
                return None
            self._claims += 1
            # Leased by another replica that is gone: it may have sent this already.
            before = row.claimed_by
            return store.to_pending(row, in_flight=before not in (None, self.instance_id))

    async def _head(self, destination: str) -> PendingSend | None:
        """SQLite: the first message of ``destination`` if it is due, read, not leased.

        SQLite is one process (:mod:`bot.leader` locks the file) with one worker per
        destination (:meth:`_drain`), so a lease would protect nothing; it cost an UPDATE
        and a commit before every send. The fencing token is checked in the same read.
        """
        now, token = self.now(), self.fence()
        query = store.head_read(token is not None)
        params = {"destination": destination, **store.fence_params(token)}
        async with self.db.relaxed_sessions() as session:
            row = (await session.execute(query, params)).first()
        if row is None:
            return None
        if not row.current:
            self.hold(STALE_FENCE)
            return None
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            return None
        self._claims += 1
        # Left leased by another instance (another device): it may have been sent.
        return store.to_pending(row, in_flight=row.claimed_by not in (None, self.instance_id))

    async def _update(self, row_id: int, **values: Any) -> bool:
        """A fenced update of a pending row; False if this replica may no longer write.

        Relaxed durability (SQLite only): a lost "sent" mark is the crash between sending
        and marking, resent with the same transaction id and de-duplicated.
        """
        token = self.fence()
        params = {"row_id": row_id, **store.fence_params(token), **values}
        async with self.db.relaxed_sessions.begin() as session:
            result = await session.execute(store.fenced_update(token is not None), params)
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
        self._sending += 1
        self._no_sends.clear()
        try:
            return await self._send_one(transport, item)
        finally:
            self._sending -= 1
            if not self._sending:
                self._no_sends.set()

    async def sends_done(self, seconds: float) -> None:
        """Wait up to ``seconds`` until no request of the outbox is in flight.

        The sync loop waits here before its next long poll: a homeserver that serves
        requests one at a time (Synapse's main process) would otherwise parse and start
        that poll in the middle of the reply's request, and build its response beside
        the reply's delivery to the room (docs/benchmarks.md, fourth round).
        """
        if self._sending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._no_sends.wait(), seconds)

    async def _send_one(self, transport: Transport, item: PendingSend) -> str:
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
        """Send ``destination``'s due messages in order. False when one must wait.

        One worker per destination: a second one (a flush at shutdown while the sender
        runs) leaves it to the first, which sends until the queue is empty.
        """
        if destination in self._busy:
            return True
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
                if not await self._mark_sent(item, event_id):
                    log.error("sent %s but lost the active role before marking it", item.txn_id)
                    self.hold(STALE_FENCE)
                    return False
            return False
        finally:
            self._busy.discard(destination)

    async def _mark_sent(self, item: PendingSend, event_id: str) -> bool:
        """Mark ``item`` sent as ``event_id`` (a private one scrubbed); False if fenced off."""
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
                preview=None,
                dm_user_id=None,
                destination=None,
                sent_at=hour,
                created_at=hour,
                claimed_by=None,
            )
        if not await self._update(item.id, **sent):
            return False
        self.metrics.sent.inc()
        self.last_progress = time.monotonic()
        return True

    async def _refresh_gauges(self) -> None:
        self.metrics.outbox_pending.set(await self.pending_count())
        self.metrics.outbox_dead.set(await self.dead_count())

    async def _gauges_every(self, seconds: float) -> None:
        """Refresh the outbox gauges on a timer (two ``count(*)``), not per message sent."""
        while True:
            try:
                await self._refresh_gauges()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_unexpected(log, exc, "counting the outbox failed")
            await asyncio.sleep(seconds)

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
