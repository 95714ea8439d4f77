"""Builds every part from the config; starts and stops them in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Sequence
from datetime import timedelta

from bot.clock import Clock, system_clock
from bot.commands import builtin
from bot.commands.router import Router
from bot.features import Plugin, default_plugins
from bot.features.lifecycle import start_plugins, stop_plugins
from bot.heap import freeze_startup_objects
from bot.leader import AnotherInstance, Leader
from bot.logs import log_unexpected
from bot.maintenance import prune
from bot.matrix.client import MatrixBot
from bot.matrix.session import LoginFailed
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.outbox.queue import STALE_FENCE
from bot.paths import set_private_umask
from bot.privacy import PrivacyRegistry
from bot.scheduler import Scheduler
from bot.services import Services
from bot.settings import Settings
from bot.storage import Database
from bot.storage.engine import session_timeouts
from bot.storage.upgrade import upgrade_database
from bot.web import WebServer
from bot.web import commands as web_commands
from bot.web.server import Probes

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_SECONDS = 10.0
NOT_ACTIVE = "not the active replica"
STARTING = "starting: the configured rooms are not joined yet"
JOIN_WAIT_SECONDS = 30.0


def build_router(
    services: Services,
    plugins: Sequence[Plugin] | None = None,
    *,
    web: bool = True,
    privacy: PrivacyRegistry | None = None,
) -> Router:
    """The router with the built-in commands and each plugin's (default: every feature's).

    Args:
        privacy: the registry behind ``!privacy`` and ``!forget me``, which gets each
            plugin's providers (default: a new one, only reachable through those commands).
    """
    router = Router(services)
    privacy = privacy or PrivacyRegistry(services)
    privacy.register(router)
    builtin.register(router)
    if web:
        web_commands.register(router)
    for plugin in default_plugins(services) if plugins is None else plugins:
        plugin.register(router)
        for provider in plugin.privacy_providers():
            privacy.add(provider)
    return router


class App:
    """The running bot: database, outbox, scheduler, Matrix client, web endpoint."""

    def __init__(self, settings: Settings, *, clock: Clock = system_clock):
        self.settings = settings
        self.metrics = Metrics()
        self.db = Database(
            settings.database.url,
            echo=settings.database.echo,
            timeouts=session_timeouts(settings),
        )
        self.outbox = Outbox(
            self.db,
            metrics=self.metrics,
            clock=clock,
            instance_id=f"{socket.gethostname()}:{settings.matrix.store_path.resolve()}",
            settings=settings.outbox,
        )
        # One active replica (bot/leader.py): only it syncs, sends and runs jobs.
        self.leader = Leader(self.db, holder=self.outbox.instance_id, on_lost=self._lost)
        self.outbox.fence = self.leader.fence
        self.scheduler = Scheduler()
        self.scheduler.allowed = lambda: self.leader.active
        self.services = Services(
            settings=settings, db=self.db, outbox=self.outbox, scheduler=self.scheduler, clock=clock
        )
        self.plugins: list[Plugin] = default_plugins(self.services)
        self.privacy = PrivacyRegistry(self.services)
        self.router = build_router(self.services, self.plugins, privacy=self.privacy)
        self.matrix = MatrixBot(settings, self.services, self.router)
        self.services.directory = self.matrix
        self.matrix.on_ready.append(self._joined)
        self.matrix.on_ready.append(self._features_ready)
        self.matrix.active_gate = self._wait_active
        self.outbox.triage_room = lambda: self.services.rooms.triage
        self.web = (
            WebServer(
                settings.web.host,
                settings.web.port,
                Probes(
                    synced=self.matrix.synced_recently,
                    database=self.db.ping,
                    role=lambda: self.leader.role,
                    session=lambda: self.matrix.session.ok,
                    outbox_moving=self.outbox.moving,
                    cross_signed=lambda: not self.matrix.e2ee.degraded,
                ),
                self.metrics,
                self.services,
                self.router,
            )
            if settings.web.enabled
            else None
        )
        self._sync_task: asyncio.Task[None] | None = None
        self._outbox_task: asyncio.Task[None] | None = None
        self._leader_task: asyncio.Task[None] | None = None
        self._standby_stop = asyncio.Event()
        self._rooms_joined = asyncio.Event()

    def _lost(self) -> None:
        """The active role is gone: stop sending at once (syncing and jobs pause too)."""
        self.outbox.hold(NOT_ACTIVE)
        self.metrics.active.set(0)

    async def _wait_active(self) -> None:
        """Until this replica is active again (or stopping)."""
        while not self.leader.active and not self._standby_stop.is_set():
            with contextlib.suppress(TimeoutError):  # polled: the leader has no event for it
                await asyncio.wait_for(self._standby_stop.wait(), 0.5)

    async def _keep_leadership(self) -> None:
        """Watch the lock; after losing it, wait as a standby and take it back."""
        while not self._standby_stop.is_set():
            await self.leader.watch()
            if self.leader.role != "lost":
                return  # SQLite, or stopping
            if not await self.leader.acquire(self._standby_stop):
                return
            try:
                await self.outbox.release_leases()
            except Exception as exc:
                log_unexpected(log, exc, "releasing outbox leases failed")
            self.outbox.release(STALE_FENCE)  # marks refused while the token was stale
            self.outbox.release(NOT_ACTIVE)
            self.metrics.active.set(1)

    async def _release_when_joined(self) -> None:
        """Lift the start-up hold once the rooms are joined (or 30 s after the first sync)."""
        await self.matrix.synced_once.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._rooms_joined.wait(), JOIN_WAIT_SECONDS)
        freeze_startup_objects()  # before the first reply: full collections stay short
        self.outbox.release(STARTING)

    async def _joined(self) -> None:
        self._rooms_joined.set()

    def plugin(self, name: str) -> Plugin:
        """The running plugin called ``name`` ("tips", "tickets"...)."""
        return next(p for p in self.plugins if p.name == name)

    async def _features_ready(self) -> None:
        """Start each plugin; one plugin's failure is retried alone (bot.features.lifecycle)."""
        await start_plugins(self.plugins, self.scheduler)

    async def start(self) -> None:
        """Migrate, serve health, log in, then start sending and syncing."""
        set_private_umask()  # the database, the crypto store and exports: this user only
        self.leader.lock_sqlite()  # a second process on one SQLite file stops here
        # In a child process: Alembic would stay in this process's memory for good.
        await upgrade_database(self.settings.database.url)
        if self.web is not None:
            await self.web.start()
        if not await self.leader.acquire(self._standby_stop):  # standbys wait here
            return
        self.metrics.active.set(1)
        self._leader_task = asyncio.create_task(self._keep_leadership(), name="leader")
        await self.matrix.login()
        await self.matrix.resolve_rooms()
        await self.outbox.release_leases()
        # Nothing is sent before the first sync joined the configured rooms: a reply to a
        # room not joined yet would be refused for good (and become a dead letter).
        self.outbox.hold(STARTING)
        self._outbox_task = asyncio.create_task(
            self.outbox.run(self.matrix.transport), name="outbox"
        )
        self._sync_task = asyncio.create_task(self.matrix.run(), name="sync")
        self.scheduler.spawn(self._release_when_joined(), "outbox-start")
        retention = timedelta(days=self.settings.bot.handled_retention_days)

        async def housekeeping() -> None:
            await prune(self.db, now=self.services.clock(), retention=retention)

        self.scheduler.every(timedelta(hours=6), housekeeping, "housekeeping")

    async def wait(self) -> None:
        """Until the sync loop ends (after :meth:`stop`)."""
        if self._sync_task is not None:
            await self._sync_task

    async def stop(self) -> None:
        """Stop syncing, finish in-flight handling, flush replies, close everything."""
        log.info("shutting down")
        self._standby_stop.set()
        await self.matrix.stop()
        if self._sync_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync_task
        if self._outbox_task is not None:
            # Give queued replies a moment to go out; whatever remains is sent on restart.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.outbox.flush(self.matrix.transport), SHUTDOWN_FLUSH_SECONDS
                )
            self._outbox_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outbox_task
        await stop_plugins(self.plugins)
        await self.scheduler.stop()
        if self._leader_task is not None:
            self._leader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leader_task
        await self.leader.close()
        self.metrics.active.set(0)
        if self.web is not None:
            await self.web.stop()
        await self.matrix.close()
        await self.db.close()
        log.info("stopped")


async def run_app(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code.

    A replica that loses the active role stops sending, syncing and running jobs at once,
    waits as a standby, and carries on if it takes the role back (bot/leader.py).
    """
    app = App(settings)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(app.start())
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # a signal while still starting (e.g. homeserver down)
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        starting.result()  # re-raise a start failure
        log.info("running as %s", app.settings.matrix.user_id)
        sync = asyncio.create_task(app.wait())
        await asyncio.wait({waiter, sync}, return_when=asyncio.FIRST_COMPLETED)
        if sync.done() and sync.exception():
            log.error("sync loop died: %r", sync.exception())
            return 1
    except LoginFailed as exc:
        log.error("cannot log in: %s", exc)
        return 1
    except AnotherInstance as exc:
        log.error("%s", exc)
        return 1
    finally:
        waiter.cancel()
        await app.stop()
    return 0
