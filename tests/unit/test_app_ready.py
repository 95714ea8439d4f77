"""One feature's startup hiccup does not keep the others' background jobs from starting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bot.app as app_module
from bot.app import App
from bot.features import Plugin, lifecycle
from tests.support.desk import make_settings


def _app(tmp_path: Path) -> App:
    """An app whose homeserver is never reached (the plugins are what is tested)."""
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        matrix={
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:test",
            "password": "x" * 8,
            "store_path": str(tmp_path / "store"),
        },
    )
    return App(settings)


async def test_app_on_ready_failures_are_retried_per_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    failures = [RuntimeError("database restarting")]

    class Flaky(Plugin):
        name = "flaky"

        async def start(self) -> None:
            calls.append("flaky")
            if failures:
                raise failures.pop()

    class Steady(Plugin):
        name = "steady"

        async def start(self) -> None:
            calls.append("steady")

    monkeypatch.setattr(app_module, "default_plugins", lambda services: [Flaky(), Steady()])
    monkeypatch.setattr(lifecycle, "RETRY_SECONDS", 0.01)
    app = _app(tmp_path)
    try:
        await app._features_ready()
        assert calls == ["flaky", "steady"]  # the second started despite the first
        for _ in range(100):
            if calls.count("flaky") == 2:
                break
            await asyncio.sleep(0.01)
        assert calls == ["flaky", "steady", "flaky"]  # retried alone, once it works
        assert [p.name for p in app.plugins] == ["flaky", "steady"]
    finally:
        await app.scheduler.stop()
        await app.matrix.close()
        await app.db.close()


async def test_app_stops_plugins_in_reverse_order_even_when_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped: list[str] = []

    def named(label: str, *, broken: bool = False) -> Plugin:
        class Stub(Plugin):
            name = label

            async def stop(self) -> None:
                stopped.append(label)
                if broken:
                    raise RuntimeError("stuck")

        return Stub()

    plugins = [named("first"), named("second", broken=True), named("third")]
    monkeypatch.setattr(app_module, "default_plugins", lambda services: plugins)
    app = _app(tmp_path)
    try:
        await lifecycle.stop_plugins(app.plugins)
        assert stopped == ["third", "second", "first"]
        assert app.plugin("second") is plugins[1]
    finally:
        await app.scheduler.stop()
        await app.matrix.close()
        await app.db.close()
