"""``MatrixBot``: the Matrix layer's façade, wiring its parts around one nio client.

* ``session.py``: login (stored session, access token or password) and healing a revoked
  session;
* ``directory.py``: who is in which room, the helpdesk/triage room ids (it alone writes
  ``services.rooms``), the pinned triage room;
* ``joins.py``: invites, and staying in the configured rooms;
* ``sync.py``: the sync loop (stored token, back-fill of gaps, exactly once);
* ``handling.py``: synced events -> dispatcher jobs -> the router;
* ``bot.matrix.e2ee``: cross-signing, secret storage, key backup, held undecryptable
  events, need-to-know in triage (called through a few hooks).

Every retry loop here waits with :class:`bot.backoff.Backoff`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import ClientConnectionError
from nio import AsyncClient, AsyncClientConfig

from bot.backoff import Backoff, pause
from bot.commands.context import RoomKind
from bot.commands.router import Router
from bot.matrix import nio_schemas
from bot.matrix import rooms as room_store
from bot.matrix.directory import RoomDirectory, UnsafeTriageRoom
from bot.matrix.dispatch import Dispatcher
from bot.matrix.e2ee import E2EE, STORE_KEY_ERRORS, STORE_KEY_PROBLEM, store_key
from bot.matrix.e2ee import command as e2ee_command
from bot.matrix.e2ee.heldstore import HeldStore
from bot.matrix.handling import EventHandling
from bot.matrix.joins import JOIN_RETRY_SECONDS, RoomJoins
from bot.matrix.membership import RoomStates
from bot.matrix.nio_store import SyncStore
from bot.matrix.sender import NioTransport
from bot.matrix.session import LoginFailed, SessionKeeper, log_in
from bot.matrix.sync import SyncFailed, SyncLoop
from bot.paths import private_store
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)

READY_SYNC_PERIODS = 3  # /readyz: a sync answered within 3 sync timeouts (+30 s)

__all__ = ["JOIN_RETRY_SECONDS", "MatrixBot", "SyncFailed", "UnsafeTriageRoom"]


def make_client(settings: Settings) -> AsyncClient:
    """The nio client: our loop retries and persists tokens, the outbox handles 429s."""
    nio_schemas.install()  # one JSON schema validator per schema, not one per check
    return AsyncClient(
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
            store=SyncStore,  # nio's, without a write of every sync that changes nothing
        ),
    )


def _keep_session(client: AsyncClient, settings: Settings, services: Services) -> SessionKeeper:
    """A revoked session holds the outbox until it heals (or the operator acts)."""
    outbox = services.outbox
    keeper = SessionKeeper(
        client,
        settings.matrix,
        on_lost=lambda: outbox.hold("session"),
        on_restored=lambda: outbox.release("session"),
        on_relogin=outbox.metrics.relogins.inc,
    )
    outbox.on_auth_error = lambda: keeper.revoked("send")
    return keeper


class MatrixBot:
    """Owns the nio client and wires the parts; turns syncs into routed messages."""

    def __init__(self, settings: Settings, services: Services, router: Router):
        self.settings = settings
        self.services = services
        self.router = router
        self.bot_user_id = settings.matrix.user_id
        self.client = make_client(settings)
        self._stopping = asyncio.Event()
        self.directory = RoomDirectory(settings, self.client, services, self._stopping)
        self.joins = RoomJoins(settings, self.client, services.db, self.directory)
        self.transport = NioTransport(self.client, encrypt_new_rooms=settings.matrix.encryption)
        self.transport.reserved_rooms = self.directory.configured_rooms
        self.session = _keep_session(self.client, settings, services)
        self.dispatcher = Dispatcher(
            save_token=self._save_token,
            handler_timeout=settings.bot.handler_timeout,
            max_attempts=settings.bot.max_event_attempts,
            max_concurrent=settings.bot.max_concurrent_rooms,
        )
        # Cross-signing identity, decryption guard, held undecryptable events.
        self.e2ee = E2EE(settings, self.client, services.outbox.metrics.registry)
        self.handling = EventHandling(
            client=self.client,
            router=router,
            e2ee=self.e2ee,
            directory=self.directory,
            dispatcher=self.dispatcher,
            command_prefix=settings.bot.command_prefix,
        )
        self._wire_e2ee(services)
        parts = (self.directory, self.joins, self.handling, self.e2ee, self.session)
        self.sync = SyncLoop(
            settings=settings,
            client=self.client,
            services=services,
            parts=(*parts, self.dispatcher),
            stopping=self._stopping,
        )

    def _wire_e2ee(self, services: Services) -> None:
        held = self.e2ee.undecryptable
        held.deliver = self.handling.deliver_late
        held.give_up = self.handling.give_up_unreadable
        held.store = HeldStore(services.db, self.bot_user_id)
        self.e2ee.need_to_know = self.directory.need_to_know
        e2ee_command.register(self.router, self.e2ee, self.directory.triage_members)

    # -- what the app and the features read ---------------------------------------

    @property
    def on_ready(self) -> list[Callable[[], Awaitable[None]]]:
        """Called once, when the bot is first in both configured rooms."""
        return self.joins.on_ready

    @property
    def synced_once(self) -> asyncio.Event:
        return self.sync.synced_once

    @property
    def connected(self) -> bool:
        return self.sync.connected

    @property
    def active_gate(self) -> Callable[[], Awaitable[None]] | None:
        """Waits while this replica is not the active one (set by the app)."""
        return self.sync.active_gate

    @active_gate.setter
    def active_gate(self, gate: Callable[[], Awaitable[None]] | None) -> None:
        self.sync.active_gate = gate

    @property
    def states(self) -> RoomStates:
        return self.directory.states

    def synced_recently(self) -> bool:
        """A sync answered within the last few sync timeouts (and the session works)."""
        last = self.sync.last_sync
        if last is None or not self.session.ok:
            return False
        limit = READY_SYNC_PERIODS * self.settings.matrix.sync_timeout_ms / 1000 + 30.0
        return asyncio.get_running_loop().time() - last < limit

    def joined_members(self, room_id: str) -> set[str]:
        """Members joined to ``room_id`` as the server last said (the services' directory)."""
        return self.directory.joined_members(room_id)

    def room_kind(self, room_id: str) -> RoomKind:
        """Helpdesk, triage, a real DM, or some other room."""
        return self.directory.room_kind(room_id)

    async def resolve_alias(self, alias: str) -> str | None:
        """The room id ``alias`` points to now (None if it does not resolve)."""
        return await self.directory.resolve_alias(alias)

    # -- lifecycle ----------------------------------------------------------------

    async def login(self) -> None:
        """Log in, retrying while the homeserver is unreachable.

        Raises:
            LoginFailed: the credentials were refused (no retry).
        """
        backoff = Backoff()
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
                delay = backoff.next()
                log.warning(
                    "homeserver unreachable at login (%s); retrying in %.0fs",
                    type(exc).__name__,
                    delay,
                )
                await pause(delay, self._stopping)

    async def resolve_rooms(self) -> None:
        """Learn the ids of the configured rooms before the first sync classifies events."""
        await self.directory.resolve_rooms()

    async def run(self) -> None:
        """Sync until :meth:`stop`; reconnects with backoff when the homeserver is down.

        Events are handed to the :class:`Dispatcher` (rooms concurrently); the stored sync
        token follows only the syncs whose events are all done. On stop, handling gets
        ``bot.shutdown_timeout`` seconds; whatever is unfinished stays unmarked.
        """
        try:
            await self.sync.run()
        finally:
            await self.dispatcher.close(self.settings.bot.shutdown_timeout)

    async def _save_token(self, token: str) -> None:
        await room_store.save_sync_token(self.services.db, self.bot_user_id, token)

    async def stop(self) -> None:
        """Stop syncing; handling in progress gets ``bot.shutdown_timeout`` to finish."""
        self._stopping.set()
        self.sync.cancel()

    async def close(self) -> None:
        """Close the HTTP sessions."""
        await self.e2ee.close()
        await self.client.close()
