"""``/healthz`` (alive), ``/readyz`` (role, recent syncs, moving outbox, database), ``/metrics``.

``/readyz`` names the replica's role: ``active`` is ready when it synced within the last
few sync timeouts, its session works, its outbox is moving and the database answers;
a ``standby`` is ready when the database answers (it waits to take over, by design).
A ready replica whose device is not cross-signed says ``"status": "degraded"``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import Metrics

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Probes:
    """What readiness depends on, as callables so the web layer knows no internals."""

    synced: Callable[[], bool]
    database: Callable[[], Awaitable[bool]]
    role: Callable[[], str] = lambda: "active"
    session: Callable[[], bool] = lambda: True
    outbox_moving: Callable[[], bool] = lambda: True
    # False while encryption is on and the bot's device is not cross-signed: Element's
    # enforced mode cannot read the bot. Reported as "degraded" (still 200: it serves).
    cross_signed: Callable[[], bool] | None = None


PROBES = web.AppKey("probes", Probes)
METRICS = web.AppKey("metrics", Metrics)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    probes = request.app[PROBES]
    role = probes.role()
    checks = {"database": await probes.database()}
    if role == "active":
        checks["synced"] = probes.synced()
        checks["session"] = probes.session()
        checks["outbox"] = probes.outbox_moving()
    ready = all(checks.values()) and role in ("active", "standby")
    status = "ready" if ready else "not ready"
    if probes.cross_signed is not None:
        # Reported, not required: a bot Element's enforced mode cannot read still serves.
        checks["cross_signed"] = probes.cross_signed()
        if ready and not checks["cross_signed"]:
            status = "degraded"
    return web.json_response(
        {"status": status, "role": role, "checks": checks},
        status=200 if ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def make_app(
    probes: Probes,
    metrics_: Metrics,
    services: Services | None = None,
    router: Router | None = None,
) -> web.Application:
    """The aiohttp application (no socket yet); with ``services`` and ``router``, the board."""
    from bot.web.site import MAX_BODY

    app = web.Application(client_max_size=MAX_BODY)
    app[PROBES] = probes
    app[METRICS] = metrics_
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    if services is not None and router is not None:
        from bot.web import board, cases, charts, handbook
        from bot.web.site import setup_site

        setup_site(app, services, router)
        board.add_routes(app)
        cases.add_routes(app)
        handbook.add_routes(app, services.settings)
        charts.add_routes(app)
    return app


class WebServer:
    """Explicit start and stop around an aiohttp runner."""

    def __init__(
        self,
        host: str,
        port: int,
        probes: Probes,
        metrics_: Metrics,
        services: Services | None = None,
        router: Router | None = None,
    ):
        self.host, self.port = host, port
        self.app = make_app(probes, metrics_, services, router)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        # Port 0 asks the OS for a free port; report the real one.
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("health endpoint on http://%s:%d/healthz", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
