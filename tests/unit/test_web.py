"""/healthz, /readyz and /metrics through aiohttp's test client (no real port needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.metrics import Metrics
from bot.web.server import Probes, make_app


@dataclass
class FakeState:
    synced: bool = False
    database: bool = True
    role: str = "active"
    session: bool = True
    outbox: bool = True


Client = Callable[[FakeState, Metrics | None], Awaitable[TestClient]]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    clients: list[TestClient] = []

    async def make(state: FakeState, metrics: Metrics | None = None) -> TestClient:
        async def database() -> bool:
            return state.database

        probes = Probes(
            synced=lambda: state.synced,
            database=database,
            role=lambda: state.role,
            session=lambda: state.session,
            outbox_moving=lambda: state.outbox,
        )
        app = make_app(probes, metrics or Metrics())
        c = TestClient(TestServer(app))
        await c.start_server()
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()


async def test_web_healthz_is_ok(client: Client) -> None:
    c = await client(FakeState(synced=False, database=False), None)
    resp = await c.get("/healthz")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    assert await resp.json() == {"status": "ok"}


async def test_web_readyz_not_ready_before_sync(client: Client) -> None:
    c = await client(FakeState(synced=False, database=True), None)
    resp = await c.get("/readyz")
    assert resp.status == 503
    body = await resp.json()
    assert body["status"] == "not ready"
    assert body["checks"] == {"synced": False, "database": True, "session": True, "outbox": True}


async def test_web_readyz_not_ready_when_database_down(client: Client) -> None:
    c = await client(FakeState(synced=True, database=False), None)
    resp = await c.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["checks"]["database"] is False


async def test_web_readyz_follows_probes(client: Client) -> None:
    state = FakeState(synced=False, database=True)
    c = await client(state, None)
    assert (await c.get("/readyz")).status == 503
    state.synced = True
    resp = await c.get("/readyz")
    assert resp.status == 200
    checks = {"synced": True, "database": True, "session": True, "outbox": True}
    assert await resp.json() == {"status": "ready", "role": "active", "checks": checks}
    state.database = False
    assert (await c.get("/readyz")).status == 503


async def test_web_readyz_needs_a_session_and_a_moving_outbox(client: Client) -> None:
    state = FakeState(synced=True)
    c = await client(state, None)
    assert (await c.get("/readyz")).status == 200
    state.session = False  # the access token was revoked
    resp = await c.get("/readyz")
    assert resp.status == 503 and (await resp.json())["checks"]["session"] is False
    state.session, state.outbox = True, False
    assert (await c.get("/readyz")).status == 503


async def test_web_readyz_names_the_role(client: Client) -> None:
    state = FakeState(synced=False, role="standby")
    c = await client(state, None)
    resp = await c.get("/readyz")  # a standby does not sync; it waits, ready to take over
    assert resp.status == 200
    assert await resp.json() == {"status": "ready", "role": "standby", "checks": {"database": True}}
    state.role = "lost"
    assert (await c.get("/readyz")).status == 503


async def test_web_metrics_prometheus_text(client: Client) -> None:
    metrics = Metrics()
    metrics.messages.labels("command").inc(3)
    metrics.sent.inc()
    c = await client(FakeState(synced=True), metrics)
    resp = await c.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert "# TYPE helpdesk_messages_total counter" in text
    assert 'helpdesk_messages_total{outcome="command"} 3.0' in text
    assert "helpdesk_outbox_sent_total 1.0" in text
    for name in ("helpdesk_outbox_pending", "helpdesk_handle_seconds", "helpdesk_syncs_total"):
        assert name in text


async def test_web_unknown_path_is_404(client: Client) -> None:
    c = await client(FakeState(), None)
    assert (await c.get("/admin")).status == 404
