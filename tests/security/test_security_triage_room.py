"""The triage room's privacy check at start (no homeserver needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.app import build_router
from bot.clock import ManualClock
from bot.matrix.client import MatrixBot, UnsafeTriageRoom
from bot.storage import Database
from tests.support.desk import START, TRIAGE, make_services, make_settings


def make_bot(tmp_path: Path, *, require: bool) -> tuple[MatrixBot, Database]:
    settings = make_settings(
        matrix={
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:test",
            "password": "x" * 8,
            "store_path": str(tmp_path / "store"),
        },
        rooms={"helpdesk": "#h:test", "triage": "#t:test", "require_private_triage": require},
    )
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    services = make_services(db, settings, clock=ManualClock(START))
    return MatrixBot(settings, services, build_router(services)), db


def open_room(bot: MatrixBot, *, encrypted: bool, rule: str, visibility: str) -> None:
    for kind, content in (
        ("m.room.join_rules", {"join_rule": rule}),
        ("m.room.history_visibility", {"history_visibility": visibility}),
    ):
        bot.states.apply(TRIAGE, {"type": kind, "state_key": "", "content": content})
    if encrypted:
        bot.states.apply(TRIAGE, {"type": "m.room.encryption", "state_key": "", "content": {}})


async def test_security_open_triage_room_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot, db = make_bot(tmp_path, require=False)
    try:
        open_room(bot, encrypted=False, rule="public", visibility="world_readable")
        with caplog.at_level(logging.WARNING):
            bot.directory.check_triage_privacy(TRIAGE)
        warned = " ".join(r.getMessage() for r in caplog.records)
        assert "not invite-only" in warned and "world-readable" in warned
        assert "not encrypted" in warned
    finally:
        await bot.close()
        await db.close()


async def test_security_open_triage_room_refused_when_required(tmp_path: Path) -> None:
    bot, db = make_bot(tmp_path, require=True)
    try:
        open_room(bot, encrypted=True, rule="public", visibility="shared")
        with pytest.raises(UnsafeTriageRoom):
            bot.directory.check_triage_privacy(TRIAGE)
        bot2, db2 = make_bot(tmp_path / "ok", require=True)
        open_room(bot2, encrypted=True, rule="invite", visibility="shared")
        bot2.directory.check_triage_privacy(TRIAGE)  # private: no complaint
        await bot2.close()
        await db2.close()
    finally:
        await bot.close()
        await db.close()
