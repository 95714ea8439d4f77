"""One feature's startup hiccup does not keep the others' background jobs from starting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bot.app as app_module
from bot.app import App
from bot.features import Feature
from tests.support.desk import make_settings


async def test_app_on_ready_failures_are_retried_per_feature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    failures = [RuntimeError("database restarting")]

    async def flaky(services: object) -> None:
        calls.append("flaky")
        if failures:
            raise failures.pop()

    async def steady(services: object) -> None:
        calls.append("steady")

    features = [
        Feature("flaky", lambda s, r: None, on_ready=flaky),
        Feature("steady", lambda s, r: None, on_ready=steady),
    ]
    monkeypatch.setattr(app_module, "all_features", lambda: features)
    monkeypatch.setattr(app_module, "READY_RETRY_SECONDS", 0.01)
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        matrix={
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:test",
            "password": "x" * 8,
            "store_path": str(tmp_path / "store"),
        },
    )
    app = App(settings)
    try:
        await app._features_ready()
        assert calls == ["flaky", "steady"]  # the second started despite the first
        for _ in range(100):
            if calls.count("flaky") == 2:
                break
            await asyncio.sleep(0.01)
        assert calls == ["flaky", "steady", "flaky"]  # retried alone, once it works
    finally:
        await app.scheduler.stop()
        await app.matrix.close()
        await app.db.close()
