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
  are handled in their decrypted form, and an event that cannot be decrypted is held
  until its key arrives or, after ``matrix.undecryptable_grace``, answered once in a DM
  saying why (see ``_on_unreadable``). Cross-signing, secret storage, key backup, the
  guard on decrypted content and need-to-know in triage live in ``bot.matrix.e2ee``,
  called through a few hooks here (``self.e2ee``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientConnectionError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    InviteMemberEvent,
    JoinedMembersResponse,
    JoinResponse,
    MessageDirection,
    RoomMessagesResponse,
    RoomResolveAliasResponse,
    SyncResponse,
)

from bot.commands.context import IncomingMessage, RoomKind
from bot.commands.router import Router
from bot.config import Settings
from bot.matrix import crypto
from bot.matrix import rooms as room_store
from bot.matrix.content import message_content
from bot.matrix.dispatch import Batch, Dispatcher, Job
from bot.matrix.e2ee import E2EE, STORE_KEY_ERRORS, STORE_KEY_PROBLEM, store_key
from bot.matrix.e2ee import command as e2ee_command
from bot.matrix.e2ee.heldstore import HeldStore
from bot.matrix.events import event_time, to_message, to_reaction, to_redaction
from bot.matrix.membership import RoomStates
from bot.matrix.sender import NioTransport
from bot.matrix.session import LoginFailed, SessionKeeper, log_in
from bot.paths import private_store
from bot.services import Services

log = logging.getLogger(__name__)

MAX_BACKFILL_PAGES = 200  # 20,000 events per room per gap; beyond that something is wrong
JOIN_RETRY_SECONDS = 60.0
READY_SYNC_PERIODS = 3  # /readyz: a sync answered within 3 sync timeouts (+30 s)
MAX_INVITE_TRIES = 10  # an invite that cannot be accepted for 10 minutes is dropped
UNREADABLE_NOTICE = (
    "I could not decrypt your last message (my device did not receive its key). "
    "Please send it again."
)

UNSIGNED_DEVICE_NOTICE = (
    "I did not act on this. In this encrypted triage room I only take commands sent from"
    " a device its owner has cross-signed (verified), and this message came from one that"
    " is not, or was not encrypted. Verify this session from one of your other sessions"
    " (in Element: Settings → Sessions), then send it again."
)


class SyncFailed(Exception):
    """A sync (or the back-fill it needs) failed; retry from the same token."""

    def __init__(self, reason: str, errcode: str | None = None):
        super().__init__(reason)
        self.errcode = errcode


class UnsafeTriageRoom(Exception):
    """The triage room is not private and ``rooms.require_private_triage`` is set."""


class MatrixBot:
    """Owns the nio client; turns syncs into routed messages, exactly once."""

    def __init__(self, settings: Settings, services: Services, router: Router):
        self.settings = settings
        self.services = services
        self.router = router
        self.bot_user_id = settings.matrix.user_id
        self.client = AsyncClient(
            settings.matrix.homeserver,
            settings.matrix.user_id,
            store_path=str(settings.matrix.store_path),
            config=AsyncClientConfig(
                store_sync_tokens=False,
                encryption_enabled=settings.matrix.encryption,
                # Connection errors are retried by our loop, with our backoff and logs.
                max_timeouts=2,
                max_timeout_retry_wait_time=5,
                # A 429 comes back to us: the outbox waits per destination, not inside nio.
                max_limit_exceeded=0,
                request_timeout=settings.matrix.request_timeout,
                pickle_key=store_key(settings),  # matrix.store_passphrase encrypts the store
            ),
        )
        self.transport = NioTransport(self.client, encrypt_new_rooms=settings.matrix.encryption)
        # Cross-signing identity, decryption guard, held undecryptable events.
        self.e2ee = E2EE(settings, self.client, services.outbox.metrics.registry)
        self.e2ee.undecryptable.deliver = self._deliver_late
        self.e2ee.undecryptable.give_up = self._give_up_unreadable
        self.e2ee.undecryptable.store = HeldStore(services.db, settings.matrix.user_id)
        self.e2ee.need_to_know = self._need_to_know
        e2ee_command.register(router, self.e2ee, self._triage_members)
        self.transport.reserved_rooms = self._configured_rooms
        self.synced_once = asyncio.Event()
        self.connected = False
        self._stopping = asyncio.Event()
        self._sync_task: asyncio.Task[Any] | None = None
        self._last_join_attempt = -JOIN_RETRY_SECONDS
        self._joined_config_rooms = False
        self._ready_fired = False
        self._joined_at: dict[str, datetime] = {}  # room id -> when the bot joined it
        # Membership and DM status from server-sent state only (see membership.py).
        self.states = RoomStates(self.bot_user_id)
        self._triage_checked = False
        self._alias_moved: str | None = None  # where rooms.triage points now, if elsewhere
        self.on_ready: list[Callable[[], Awaitable[None]]] = []
        # Delivery: a revoked session heals (or says so); readiness needs recent syncs.
        outbox = services.outbox
        self.session = SessionKeeper(
            self.client,
            settings.matrix,
            on_lost=lambda: outbox.hold("session"),
            on_restored=lambda: outbox.release("session"),
            on_relogin=outbox.metrics.relogins.inc,
        )
        outbox.on_auth_error = lambda: self.session.revoked("send")
        self.last_sync: float | None = None  # loop time of the last sync response
        # Waits while this replica is not the active one (set by the app).
        self.active_gate: Callable[[], Awaitable[None]] | None = None
        self.dispatcher = Dispatcher(
            save_token=self._save_token,
            handler_timeout=settings.bot.handler_timeout,
            max_attempts=settings.bot.max_event_attempts,
            max_concurrent=settings.bot.max_concurrent_rooms,
        )
        self._first_sync_cutoff: datetime | None = None  # set when no token was stored
        self._failed_invites: dict[str, list[Any]] = {}  # room id -> its invite state
        self._invite_tries: dict[str, int] = {}
        self._last_invite_retry = 0.0

    def synced_recently(self) -> bool:
        """A sync answered within the last few sync timeouts (and the session works)."""
        if self.last_sync is None or not self.session.ok:
            return False
        limit = READY_SYNC_PERIODS * self.settings.matrix.sync_timeout_ms / 1000 + 30.0
        return asyncio.get_running_loop().time() - self.last_sync < limit

    # -- directory (used for the security team and DM detection) ------------------

    def joined_members(self, room_id: str) -> set[str]:
        """Members joined to ``room_id`` as the server last said (empty once the bot left)."""
        return self.states.joined(room_id)

    async def resolve_alias(self, alias: str) -> str | None:
        """The room id ``alias`` points to now (None if it does not resolve).

        Raises:
            OSError, TimeoutError: the homeserver could not answer (try again later).
        """
        response = await self.client.room_resolve_alias(alias)
        if isinstance(response, RoomResolveAliasResponse):
            return response.room_id
        code = getattr(response, "status_code", None)
        if code == "M_NOT_FOUND":
            return None
        raise ConnectionError(f"alias lookup failed: {code or type(response).__name__}")

    def _triage_members(self) -> set[str]:
        triage = self.services.rooms.triage
        return self.joined_members(triage) if triage else set()

    def _need_to_know(self, room_id: str) -> set[str] | None:
        """The triage room's members (its keys go to cross-signed devices only)."""
        return self._triage_members() if room_id == self.services.rooms.triage else None

    def _configured_rooms(self) -> set[str]:
        return {r for r in (self.services.rooms.helpdesk, self.services.rooms.triage) if r}

    def room_kind(self, room_id: str) -> RoomKind:
        """Helpdesk, triage, a real DM (see membership.py), or some other room."""
        if room_id == self.services.rooms.helpdesk:
            return RoomKind.HELPDESK
        if room_id == self.services.rooms.triage:
            return RoomKind.TRIAGE
        if self.states.dm_partner(room_id) is not None:
            return RoomKind.DIRECT
        return RoomKind.OTHER

    # -- lifecycle ----------------------------------------------------------------

    async def login(self) -> None:
        """Log in, retrying while the homeserver is unreachable.

        Raises:
            LoginFailed: the credentials were refused (no retry).
        """
        delay = 1.0
        # nio keeps the crypto store (a SQLite file per device) in this directory.
        private_store(self.settings.matrix.store_path)
        while not self._stopping.is_set():
            try:
                await log_in(self.client, self.settings.matrix)
                if self.settings.matrix.encryption and self.client.olm is None:
                    raise LoginFailed("encryption is on but the crypto store did not load")
                await self.e2ee.on_login()
                return
            except LoginFailed:
                raise
            except STORE_KEY_ERRORS:
                raise LoginFailed(STORE_KEY_PROBLEM) from None
            except (ClientConnectionError, TimeoutError, OSError) as exc:
                log.warning(
                    "homeserver unreachable at login (%s); retrying in %.0fs",
                    type(exc).__name__,
                    delay,
                )
                await self._sleep(delay)
                delay = min(delay * 2, 30.0)

    async def resolve_rooms(self) -> None:
        """Learn the ids of the configured rooms before the first sync classifies events."""
        delay = 1.0
        for key in ("helpdesk", "triage"):
            ref = getattr(self.settings.rooms, key)
            while ref.startswith("#") and not self._stopping.is_set():
                try:
                    response = await self.client.room_resolve_alias(ref)
                except (ClientConnectionError, TimeoutError, OSError) as exc:
                    log.warning("cannot resolve rooms.%s (%s); retrying", key, type(exc).__name__)
                    await self._sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                if isinstance(response, RoomResolveAliasResponse):
                    ref = response.room_id
                else:
                    # Not fatal: the alias may be created later; joining retries it.
                    log.error(
                        "rooms.%s %s does not resolve: %s",
                        key,
                        ref,
                        getattr(response, "message", response),
                    )
                break
            if key == "triage":
                ref = await self._pin_triage(ref)
            if ref.startswith("!"):
                setattr(self.services.rooms, key, ref)

    async def _pin_triage(self, resolved: str) -> str:
        """The triage room is the one pinned at the first start, whatever the alias says.

        Whoever can repoint the alias must not decide who the security team is: a moved
        alias is reported loudly (log and triage room) and ignored until an operator runs
        ``helpdesk-bot rooms repin``.
        """
        db = self.services.db
        pinned = await room_store.load_pin(db)
        configured_id = self.settings.rooms.triage.startswith("!")
        if resolved.startswith("!") and (pinned is None or configured_id):
            if pinned != resolved:
                await room_store.save_pin(db, resolved)
                log.info("triage room pinned: %s", resolved)
            return resolved
        if pinned is None:
            return resolved  # the alias does not resolve yet; pinned once it does
        if resolved.startswith("!") and resolved != pinned:
            self._alias_moved = resolved
            log.error(
                "SECURITY WARNING: rooms.triage %s now points to %s, not to the pinned triage "
                "room %s. Keeping the pinned room; if the move is intended, run "
                "'helpdesk-bot rooms repin'.",
                self.settings.rooms.triage,
                resolved,
                pinned,
            )
        return pinned

    async def run(self) -> None:
        """Sync until :meth:`stop`; reconnects with backoff when the homeserver is down.

        Events are handed to the :class:`Dispatcher` (rooms concurrently); the stored sync
        token follows only the syncs whose events are all done. On stop, handling gets
        ``bot.shutdown_timeout`` seconds; whatever is unfinished stays unmarked.
        """
        try:
            await self._run()
        finally:
            await self.dispatcher.close(self.settings.bot.shutdown_timeout)

    async def _save_token(self, token: str) -> None:
        await room_store.save_sync_token(self.services.db, self.bot_user_id, token)

    async def _run(self) -> None:
        since = await self._load_token()
        self.states.direct_invites.update(await room_store.load_direct_invites(self.services.db))
        first = True
        delay = 1.0
        while not self._stopping.is_set():
            if self.active_gate is not None:
                await self.active_gate()
                if self._stopping.is_set():
                    break
            if not self.session.ok:
                if not await self.session.heal(self._sleep, self._stopping.is_set):
                    break
            try:
                response = await self._sync(since, full_state=first)
                if response is None:
                    break  # stopping
                await crypto.publish_keys(self.client)  # before accepting any invite
                self.e2ee.on_sync(response)
                batch = self.dispatcher.begin(response.next_batch)
                try:
                    await self._process(response, since, batch)
                except BaseException:
                    self.dispatcher.seal(batch, complete=False)  # fetched again: no token
                    raise
                self.dispatcher.seal(batch)
                since = response.next_batch
                first = False
                delay = 1.0
                self.connected = True
                self.services.outbox.metrics.syncs.inc()
                # Before joining (and before "ready"): people encrypt to published keys.
                await crypto.exchange_keys(self.client)
                await self.e2ee.after_sync()
                if not self.synced_once.is_set():
                    self.synced_once.set()
                await self._ensure_rooms()
                await self._retry_invites()
                await self.dispatcher.wait_capacity()
            except (asyncio.CancelledError, UnsafeTriageRoom):
                raise
            except Exception as exc:
                self.connected = False
                if getattr(exc, "errcode", None) == "M_UNKNOWN_TOKEN":
                    self.session.revoked("sync")
                    continue
                if isinstance(exc, SyncFailed | ClientConnectionError | TimeoutError | OSError):
                    log.warning(
                        "sync failed (%s); retrying in %.0fs", exc or type(exc).__name__, delay
                    )
                else:
                    log.exception("sync processing failed; retrying in %.0fs", delay)
                await self._sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _load_token(self) -> str | None:
        """The stored sync token; without one, old history is not answered (see below)."""
        delay = 1.0
        since: str | None = None
        while not self._stopping.is_set():
            try:
                since = await room_store.load_sync_token(self.services.db, self.bot_user_id)
                break
            except Exception as exc:
                log.warning("cannot read the sync token (%s); retrying", type(exc).__name__)
                await self._sleep(delay)
                delay = min(delay * 2, 30.0)
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

    async def stop(self) -> None:
        """Stop syncing; handling in progress gets ``bot.shutdown_timeout`` to finish."""
        self._stopping.set()
        if self._sync_task is not None and not self._sync_task.done():
            self._sync_task.cancel()

    async def close(self) -> None:
        """Close the HTTP sessions."""
        await self.e2ee.close()
        await self.client.close()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # -- syncing ------------------------------------------------------------------

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

    async def _process(self, response: SyncResponse, since: str | None, batch: Batch) -> None:
        for room_id, invite in response.rooms.invite.items():
            await self._on_invite(room_id, invite.invite_state)
        for room_id in response.rooms.leave:
            # Removed, kicked or banned: nobody in that room counts for us any more.
            self.states.forget(room_id)
        skipped = 0
        for room_id, info in response.rooms.join.items():
            if room_id == self.services.rooms.triage and self._alias_moved:
                await self._warn_alias_moved(room_id)
            self.states.apply_sync(room_id, [*info.state, *info.timeline.events])
            events = [crypto.readable(self.client, room_id, e) for e in info.timeline.events]
            just_joined = any(room_store.is_own_join(e, self.bot_user_id) for e in events)
            if just_joined or (info.timeline.limited and since is not None):
                await self._reread_members(room_id)
            # A gap before our own join holds nothing we may answer: skip the back-fill.
            if (
                info.timeline.limited
                and since is not None
                and info.timeline.prev_batch
                and not just_joined
            ):
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
            if self._first_sync_cutoff is not None and not_before < self._first_sync_cutoff:
                skipped += room_store.count_answerable(
                    events, self.bot_user_id, not_before, self._first_sync_cutoff
                )
                not_before = self._first_sync_cutoff
            if room_id == self.services.rooms.triage and not self._triage_checked:
                self._check_triage_privacy(room_id)
            self._handle_events(room_id, events, not_before, batch)
        if self._first_sync_cutoff is not None and (skipped or since is None):
            log.info(
                "started without a stored sync token: skipped %d message(s) older than %s",
                skipped,
                self.settings.bot.first_sync_backlog,
            )
        for room_id in response.rooms.leave:
            if room_id in (self.services.rooms.helpdesk, self.services.rooms.triage):
                log.error(
                    "the bot is no longer in configured room %s; %s",
                    room_id,
                    "nobody has security-team rights from it until it rejoins"
                    if room_id == self.services.rooms.triage
                    else "it will try to rejoin",
                )
                self._joined_config_rooms = False

    def _check_triage_privacy(self, room_id: str) -> None:
        """Warn (or refuse, with ``rooms.require_private_triage``) about an open triage room."""
        state = self.states.rooms.get(room_id)
        if state is None:
            return
        self._triage_checked = True
        problems = room_store.triage_problems(state)
        if not problems:
            return
        text = f"the triage room {room_id} is not private: {'; '.join(problems)}"
        if self.settings.rooms.require_private_triage:
            log.error("%s; refusing to run (rooms.require_private_triage is set)", text)
            raise UnsafeTriageRoom(text)
        log.warning("SECURITY WARNING: %s. Reports shown there may reach others.", text)

    async def _warn_alias_moved(self, room_id: str) -> None:
        """Tell the pinned triage room, once per target, that its alias was moved."""
        moved, self._alias_moved = self._alias_moved, None
        text = (
            f"⚠ Security warning: the alias {self.settings.rooms.triage} now points to another "
            f"room ({moved}). I keep treating THIS room as the triage room and its members as "
            "the security team. If the move was intended, an operator runs "
            "'helpdesk-bot rooms repin'; if not, someone repointed the alias."
        )
        async with self.services.db.sessions.begin() as session:
            await self.services.outbox.add(
                session,
                txn_key=f"rooms:alias-moved:{moved}",
                room_id=room_id,
                content=message_content(text),
            )
        self.services.outbox.wake()

    async def _reread_members(self, room_id: str) -> None:
        """After a gap or a (re)join, take the joined members from the server again."""
        response = await self.client.joined_members(room_id)
        if isinstance(response, JoinedMembersResponse):
            self.states.replace_joined(room_id, {m.user_id for m in response.members})
        else:
            log.warning(
                "cannot re-read the members of %s: %s",
                room_id,
                getattr(response, "message", response),
            )

    def _handle_events(
        self, room_id: str, events: list[dict[str, Any]], not_before: datetime, batch: Batch
    ) -> None:
        """Queue the answerable events of one room, in order, on the dispatcher."""
        kind = self.room_kind(room_id)
        seen: set[str] = set()
        for event in events:
            event_id = event.get("event_id")
            if not event_id or event_id in seen:
                continue
            seen.add(event_id)
            job = self._job(room_id, kind, event, not_before)
            if job is not None:
                self.dispatcher.submit(batch, room_id, job)

    def _job(
        self, room_id: str, kind: RoomKind, event: dict[str, Any], not_before: datetime
    ) -> Job | None:
        event_id = str(event["event_id"])
        router = self.router

        async def give_up_silently(reason: str) -> None:
            await router.give_up(event_id=event_id, room_id=room_id, reason=reason, reply=False)

        async def give_up_with_reference(reason: str) -> None:
            await router.give_up(event_id=event_id, room_id=room_id, reason=reason, reply=True)

        if event.get("type") == crypto.ENCRYPTED:
            if event.get("sender") == self.bot_user_id or event_time(event) < not_before:
                return None
            unreadable = lambda: self._on_unreadable(room_id, kind, event)  # noqa: E731
            return Job(event_id, unreadable, give_up_silently)
        msg = to_message(event, room_id, kind, self.bot_user_id)
        if msg is not None:
            if msg.timestamp < not_before:
                return None

            async def handle() -> None:
                if await self._signed_sender(msg, event):
                    await router.handle(msg)

            return Job(event_id, handle, give_up_with_reference)
        reaction = to_reaction(event, room_id, kind, self.bot_user_id)
        if reaction is not None and reaction.timestamp >= not_before:
            return Job(event_id, lambda: router.handle_reaction(reaction), give_up_silently)
        redaction = to_redaction(event, room_id, kind, self.bot_user_id)
        if redaction is not None and redaction.timestamp >= not_before:
            return Job(event_id, lambda: router.handle_redaction(redaction), give_up_silently)
        return None

    async def _signed_sender(self, msg: IncomingMessage, event: dict[str, Any]) -> bool:
        """False (and a refusal, if it was meant for the bot) for a message from a device
        its owner has not cross-signed, in the encrypted triage room."""
        if await self.e2ee.may_command(msg.room_id, event):
            return True
        log.warning("refusing a triage message from an unsigned device of %s", msg.sender)
        prefix = self.settings.bot.command_prefix
        if msg.body.lstrip().startswith(prefix) or msg.mentions_bot or msg.in_reply_to:
            await self.router.handle_unreadable(
                event_id=msg.event_id, room_id=msg.room_id, text=UNSIGNED_DEVICE_NOTICE
            )
        return False

    async def _on_unreadable(self, room_id: str, kind: RoomKind, event: dict[str, Any]) -> None:
        """An event we hold no key for: ask for the key, and (in a DM) for a resend.

        The event is claimed like any other, so the notice goes out exactly once and a
        key that arrives later does not make the bot answer twice. In group rooms no
        notice is sent: the message may not have been for the bot, and one missing key
        usually hides a whole run of someone's messages.
        """
        if self.e2ee.enabled:
            # Held until its key arrives (then answered) or the grace period ends.
            await self.e2ee.undecryptable.hold(room_id, event, direct=kind is RoomKind.DIRECT)
            return
        event_id = str(event["event_id"])
        log.warning(
            "cannot decrypt %s from %s in %s (no room key); asked for the key",
            event_id,
            event.get("sender"),
            room_id,
        )
        await crypto.request_room_key(self.client, room_id, event)
        text = UNREADABLE_NOTICE if kind is RoomKind.DIRECT else None
        await self.router.handle_unreadable(event_id=event_id, room_id=room_id, text=text)

    async def _deliver_late(self, room_id: str, event: dict[str, Any]) -> None:
        """A held event whose key arrived: handled as if it had just come in.

        It joins its room's queue like any event, in a batch of its own with no sync
        token (nothing to save: the sync that brought it was saved long ago).
        """
        batch = self.dispatcher.begin("")
        self._handle_events(room_id, [event], datetime.min.replace(tzinfo=UTC), batch)
        self.dispatcher.seal(batch, complete=False)

    async def _give_up_unreadable(self, event_id: str, room_id: str, text: str | None) -> None:
        await self.router.handle_unreadable(event_id=event_id, room_id=room_id, text=text)

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

    # -- rooms --------------------------------------------------------------------

    async def _on_invite(self, room_id: str, invite_state: list[Any]) -> None:
        # nio strips "content" from the raw source of stripped invite-state member events;
        # its parsed attributes keep membership and content.
        inviter = None
        is_direct = False
        for event in invite_state:
            if (
                isinstance(event, InviteMemberEvent)
                and event.state_key == self.bot_user_id
                and event.membership == "invite"
            ):
                inviter = event.sender
                is_direct = bool((event.content or {}).get("is_direct"))
        server = inviter.split(":", 1)[1] if inviter and ":" in inviter else None
        if server not in self.settings.matrix.invite_servers:
            log.info("declining invite to %s from %s (server not allowed)", room_id, inviter)
            await self.client.room_leave(room_id)
            return
        response = await self.client.join(room_id)
        if isinstance(response, JoinResponse):
            log.info("joined %s on invite from %s", room_id, inviter)
            if is_direct and inviter:
                await room_store.remember_direct_room(self.services.db, inviter, room_id)
                await room_store.remember_direct_invite(self.services.db, inviter, room_id)
                self.states.direct_invites[room_id] = inviter
        else:
            log.warning("could not join %s: %s", room_id, getattr(response, "message", response))
            tries = self._invite_tries.get(room_id, 0) + 1
            if tries < MAX_INVITE_TRIES:  # retried (see _retry_invites)
                self._failed_invites[room_id], self._invite_tries[room_id] = invite_state, tries
                self._last_invite_retry = asyncio.get_running_loop().time()

    async def _retry_invites(self) -> None:
        """Join again the rooms whose invite could not be accepted (a sync shows it once)."""
        loop = asyncio.get_running_loop()
        if not self._failed_invites or loop.time() - self._last_invite_retry < JOIN_RETRY_SECONDS:
            return
        self._last_invite_retry = loop.time()
        for room_id in list(self._failed_invites):
            if room_id in self.client.rooms and self.bot_user_id in self.joined_members(room_id):
                del self._failed_invites[room_id]
                continue
            await self._on_invite(room_id, self._failed_invites.pop(room_id))

    async def _ensure_rooms(self) -> None:
        if self._joined_config_rooms:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_join_attempt < JOIN_RETRY_SECONDS:
            return
        self._last_join_attempt = loop.time()
        ok = True
        for key in ("helpdesk", "triage"):
            ref = getattr(self.settings.rooms, key)
            known = getattr(self.services.rooms, key)
            if key == "triage":
                ref = known or ref  # the pinned room, never where a moved alias points
            response = await self.client.join(ref)
            if isinstance(response, JoinResponse):
                setattr(self.services.rooms, key, response.room_id)
                if key == "triage" and known is None:  # the alias resolved only now: pin it
                    await room_store.save_pin(self.services.db, response.room_id)
                    log.info("triage room pinned: %s", response.room_id)
            else:
                ok = False
                log.error(
                    "cannot join rooms.%s %s: %s (will retry)",
                    key,
                    ref,
                    getattr(response, "message", response),
                )
        self._joined_config_rooms = ok
        if ok and not self._ready_fired:
            # Once per process: a rejoin after a kick must not start schedules twice.
            self._ready_fired = True
            for callback in self.on_ready:
                await callback()
