"""The sync loop: exactly-once message handling on top of matrix-nio.

nio's own ``sync_forever`` saves ``next_batch`` before callbacks run and asks for 10
events per room, which loses messages (see ``docs`` in the README). Here:

* the sync token lives in the database and advances only after every event of that
  sync has been handled (handled events are recorded, so a replay is harmless);
* a ``limited`` timeline is filled in from ``/messages``, back from ``prev_batch`` to
  the previous sync token, so a burst or an outage of any length loses nothing;
* the first sync after a start asks for full state (room members for DM detection and
  the security team), but only the timeline since the stored token;
* with ``matrix.encryption``, keys are exchanged after each sync (before the first
  join, so nobody encrypts to the bot before its keys are published), encrypted events
  are handled in their decrypted form (see ``handling.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientConnectionError
from nio import AsyncClient, MessageDirection, RoomMessagesResponse, SyncResponse

from bot.backoff import Backoff, pause
from bot.matrix import crypto
from bot.matrix import rooms as room_store
from bot.matrix.directory import RoomDirectory, UnsafeTriageRoom
from bot.matrix.dispatch import Batch, Dispatcher
from bot.matrix.e2ee import E2EE
from bot.matrix.handling import EventHandling
from bot.matrix.joins import RoomJoins
from bot.matrix.session import SessionKeeper
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)

SETTLE_SECONDS = 0.05  # the longest the next long poll waits for handlers, then sends
MAX_BACKFILL_PAGES = 200  # 20,000 events per room per gap; beyond that something is wrong


class SyncFailed(Exception):
    """A sync (or the back-fill it needs) failed; retry from the same token."""

    def __init__(self, reason: str, errcode: str | None = None):
        super().__init__(reason)
        self.errcode = errcode


class SyncLoop:
    """Syncs until stopped; hands each sync's events to :class:`EventHandling`."""

    def __init__(
        self,
        *,
        settings: Settings,
        client: AsyncClient,
        services: Services,
        parts: tuple[RoomDirectory, RoomJoins, EventHandling, E2EE, SessionKeeper, Dispatcher],
        stopping: asyncio.Event,
    ):
        self.settings = settings
        self.client = client
        self.services = services
        self.directory, self.joins, self.handling, self.e2ee, self.session, self.dispatcher = parts
        self.bot_user_id = settings.matrix.user_id
        self._stopping = stopping
        self.synced_once = asyncio.Event()
        self.connected = False
        self.last_sync: float | None = None  # loop time of the last sync response
        # Waits while this replica is not the active one (set by the app).
        self.active_gate: Callable[[], Awaitable[None]] | None = None
        self._sync_task: asyncio.Task[Any] | None = None
        self._joined_at: dict[str, datetime] = {}  # room id -> when the bot joined it
        self._first_sync_cutoff: datetime | None = None  # set when no token was stored

    async def run(self) -> None:
        """Sync until stopped; reconnects with backoff when the homeserver is down."""
        since = await self._load_token()
        direct = await room_store.load_direct_invites(self.services.db)
        self.directory.states.direct_invites.update(direct)
        first = True
        backoff = Backoff()
        while not self._stopping.is_set():
            if self.active_gate is not None:
                await self.active_gate()
                if self._stopping.is_set():
                    break
            if not self.session.ok:
                if not await self.session.heal(self._stopping):
                    break
            try:
                response = await self._sync(since, full_state=first)
                if response is None:
                    break  # stopping
                await self._after_sync(response, since)
                since = response.next_batch
                first = False
                backoff.reset()
            except (asyncio.CancelledError, UnsafeTriageRoom):
                raise
            except Exception as exc:
                await self._failed(exc, backoff)

    async def _after_sync(self, response: SyncResponse, since: str | None) -> None:
        await crypto.publish_keys(self.client)  # before accepting any invite
        self.e2ee.on_sync(response)
        batch = self.dispatcher.begin(response.next_batch)
        try:
            await self.process(response, since, batch)
        except BaseException:
            self.dispatcher.seal(batch, complete=False)  # fetched again: no token
            raise
        self.dispatcher.seal(batch)
        self.connected = True
        self.services.outbox.metrics.syncs.inc()
        # Before joining (and before "ready"): people encrypt to published keys.
        await crypto.exchange_keys(self.client)
        await self.e2ee.after_sync()
        if not self.synced_once.is_set():
            self.synced_once.set()
        await self.joins.ensure_rooms()
        await self.joins.retry_invites()
        await self.dispatcher.wait_capacity()
        # The next long poll once this sync's events are handled and their replies
        # delivered (bounded): see Dispatcher.settle and Outbox.sends_done.
        await self.dispatcher.settle(SETTLE_SECONDS)
        await self.services.outbox.sends_done(SETTLE_SECONDS)

    async def _failed(self, exc: Exception, backoff: Backoff) -> None:
        """Log a failed sync and wait before the next (a revoked session heals first)."""
        self.connected = False
        if getattr(exc, "errcode", None) == "M_UNKNOWN_TOKEN":
            self.session.revoked("sync")
            return
        delay = backoff.next()
        if isinstance(exc, SyncFailed | ClientConnectionError | TimeoutError | OSError):
            log.warning("sync failed (%s); retrying in %.0fs", exc or type(exc).__name__, delay)
        else:
            log.exception("sync processing failed; retrying in %.0fs", delay)
        await pause(delay, self._stopping)

    async def _load_token(self) -> str | None:
        """The stored sync token; without one, old history is not answered (see below)."""
        backoff = Backoff()
        since: str | None = None
        while not self._stopping.is_set():
            try:
                since = await room_store.load_sync_token(self.services.db, self.bot_user_id)
                break
            except Exception as exc:
                log.warning("cannot read the sync token (%s); retrying", type(exc).__name__)
                await backoff.sleep(self._stopping)
        if since is None:
            # A new database (first start, a move, a restore) must not replay history.
            # The cut-off holds for the whole run: Synapse may answer a repeated initial
            # sync from its cache, and the history then comes in the following syncs.
            backlog = self.settings.bot.first_sync_backlog
            self._first_sync_cutoff = datetime.now(UTC) - backlog
            log.info(
                "no stored sync token: answering only messages newer than %s",
                self._first_sync_cutoff.isoformat(timespec="seconds"),
            )
        return since

    def cancel(self) -> None:
        """Cut the long poll in progress short (the bot stops)."""
        if self._sync_task is not None and not self._sync_task.done():
            self._sync_task.cancel()

    def _filter(self) -> dict[str, Any]:
        return {
            "room": {
                "timeline": {"limit": self.settings.matrix.timeline_limit},
                "state": {"lazy_load_members": False},
                "ephemeral": {"not_types": ["*"]},
            },
            "presence": {"not_types": ["*"]},
        }

    async def _sync(self, since: str | None, *, full_state: bool) -> SyncResponse | None:
        # Only the long poll is cancellable on stop; handling is never interrupted.
        timeout = 0 if (since is None or full_state) else self.settings.matrix.sync_timeout_ms
        self._sync_task = asyncio.ensure_future(
            self.client.sync(
                timeout=timeout, sync_filter=self._filter(), since=since, full_state=full_state
            )
        )
        try:
            response = await self._sync_task
        except asyncio.CancelledError:
            if self._stopping.is_set():
                return None
            raise
        finally:
            self._sync_task = None
        if not isinstance(response, SyncResponse):
            raise SyncFailed(
                f"{getattr(response, 'status_code', '')} "
                f"{getattr(response, 'message', response)}".strip(),
                getattr(response, "status_code", None),
            )
        self.last_sync = asyncio.get_running_loop().time()
        return response

    async def process(self, response: SyncResponse, since: str | None, batch: Batch) -> None:
        """Invites, leaves, then each joined room's events onto ``batch``."""
        for room_id, invite in response.rooms.invite.items():
            await self.joins.on_invite(room_id, invite.invite_state)
        for room_id in response.rooms.leave:
            self.joins.lost(room_id)
        skipped = 0
        for room_id, info in response.rooms.join.items():
            skipped += await self._process_room(room_id, info, since, batch)
        if self._first_sync_cutoff is not None and (skipped or since is None):
            log.info(
                "started without a stored sync token: skipped %d message(s) older than %s",
                skipped,
                self.settings.bot.first_sync_backlog,
            )

    async def _process_room(self, room_id: str, info: Any, since: str | None, batch: Batch) -> int:
        """Queue one joined room's events; returns how many the first-start cut-off skipped."""
        await self.directory.room_synced(room_id, [*info.state, *info.timeline.events])
        events = [crypto.readable(self.client, room_id, e) for e in info.timeline.events]
        just_joined = any(room_store.is_own_join(e, self.bot_user_id) for e in events)
        gap = info.timeline.limited and since is not None
        if just_joined or gap:
            await self.directory.reread_members(room_id)
        # A gap before our own join holds nothing we may answer: skip the back-fill.
        if gap and info.timeline.prev_batch and not just_joined:
            events = await self._backfill(room_id, info.timeline.prev_batch, since) + events
        state = [e.source for e in info.state]
        # Event timestamps are the homeserver's wall clock, so compare with the wall
        # clock, never with the injected (possibly simulated) one.
        now = datetime.now(UTC)
        joined_at = await room_store.joined_at(
            self.services.db, room_id, state + events, self.bot_user_id, now, self._joined_at
        )
        not_before = room_store.answerable_since(
            joined_at, now, self.settings.bot.handled_retention_days
        )
        skipped = 0
        cutoff = self._first_sync_cutoff
        if cutoff is not None and not_before < cutoff:
            skipped = room_store.count_answerable(events, self.bot_user_id, not_before, cutoff)
            not_before = cutoff
        self.directory.check_triage(room_id)
        self.handling.handle_events(room_id, events, not_before, batch)
        return skipped

    async def _backfill(self, room_id: str, prev_batch: str, stop_token: str) -> list[dict]:
        """Events between ``stop_token`` and ``prev_batch``, oldest first."""
        collected: list[dict[str, Any]] = []
        start = prev_batch
        for _ in range(MAX_BACKFILL_PAGES):
            page = await self.client.room_messages(
                room_id, start=start, end=stop_token, direction=MessageDirection.back, limit=100
            )
            if not isinstance(page, RoomMessagesResponse):
                raise SyncFailed(f"back-fill of {room_id} failed: {getattr(page, 'message', page)}")
            collected.extend(crypto.readable(self.client, room_id, e) for e in page.chunk)
            if not page.chunk or not page.end or page.end == start:
                break
            start = page.end
        else:
            log.error("back-fill of %s stopped after %d pages", room_id, MAX_BACKFILL_PAGES)
        if collected:
            log.info("filled a gap of %d events in %s", len(collected), room_id)
        collected.reverse()
        return collected
