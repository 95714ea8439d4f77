"""Builds every part from the config; starts and stops them in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from datetime import timedelta

from bot.clock import Clock, system_clock
from bot.commands import builtin
from bot.commands.router import Router
from bot.config import Settings
from bot.features import all_features
from bot.maintenance import prune
from bot.matrix.client import MatrixBot
from bot.matrix.session import LoginFailed
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.paths import set_private_umask
from bot.scheduler import Scheduler
from bot.services import Services
from bot.storage import Database
from bot.storage.migrate import upgrade
from bot.web import WebServer
from bot.web.server import Probes

log = logging.getLogger(__name__)

SHUTDOWN_FLUSH_SECONDS = 10.0


def build_router(services: Services) -> Router:
    """The router with the built-in commands and every feature's commands."""
    router = Router(services)
    builtin.register(router)
    for feature in all_features():
        feature.setup(services, router)
    return router


class App:
    """The running bot: database, outbox, scheduler, Matrix client, web endpoint."""

    def __init__(self, settings: Settings, *, clock: Clock = system_clock):
        self.settings = settings
        self.metrics = Metrics()
        self.db = Database(settings.database.url, echo=settings.database.echo)
        self.outbox = Outbox(
            self.db,
            metrics=self.metrics,
            clock=clock,
            instance_id=f"{socket.gethostname()}:{settings.matrix.store_path.resolve()}",
        )
        self.scheduler = Scheduler()
        self.services = Services(
            settings=settings, db=self.db, outbox=self.outbox, scheduler=self.scheduler, clock=clock
        )
        self.router = build_router(self.services)
        self.matrix = MatrixBot(settings, self.services, self.router)
        self.services.directory = self.matrix
        self.matrix.on_ready.append(self._features_ready)
        self.web = (
            WebServer(
                settings.web.host,
                settings.web.port,
                Probes(synced=self.matrix.synced_once.is_set, database=self.db.ping),
                self.metrics,
            )
            if settings.web.enabled
            else None
        )
        self._sync_task: asyncio.Task[None] | None = None
        self._outbox_task: asyncio.Task[None] | None = None

    async def _features_ready(self) -> None:
        for feature in all_features():
            if feature.on_ready is not None:
                await feature.on_ready(self.services)

    async def start(self) -> None:
        """Migrate, serve health, log in, then start sending and syncing."""
        set_private_umask()  # the database, the crypto store and exports: this user only
        await upgrade(self.settings.database.url)
        if self.web is not None:
            await self.web.start()
        await self.matrix.login()
        await self.matrix.resolve_rooms()
        await self.outbox.release_own_leases()
        self._outbox_task = asyncio.create_task(
            self.outbox.run(self.matrix.transport), name="outbox"
        )
        self._sync_task = asyncio.create_task(self.matrix.run(), name="sync")
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
        await self.scheduler.stop()
        if self.web is not None:
            await self.web.stop()
        await self.matrix.close()
        await self.db.close()
        log.info("stopped")


async def run_app(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code."""
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
        log.info("running as %s", settings.matrix.user_id)
        sync = asyncio.create_task(app.wait())
        await asyncio.wait({waiter, sync}, return_when=asyncio.FIRST_COMPLETED)
        if sync.done() and sync.exception():
            log.error("sync loop died: %r", sync.exception())
            return 1
    except LoginFailed as exc:
        log.error("cannot log in: %s", exc)
        return 1
    finally:
        waiter.cancel()
        await app.stop()
    return 0
