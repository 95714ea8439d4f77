"""The sync loop's room bookkeeping, without a homeserver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nio import JoinResponse

from bot.app import build_router
from bot.clock import ManualClock
from bot.matrix.client import JOIN_RETRY_SECONDS, MatrixBot
from bot.storage import Database
from tests.support.desk import START, make_services, make_settings


async def test_client_on_ready_fires_once_even_after_a_rejoin(tmp_path: Path) -> None:
    settings = make_settings(
        matrix={
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:test",
            "password": "x" * 8,
            "store_path": str(tmp_path / "store"),
        }
    )
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    services = make_services(db, settings, clock=ManualClock(START))
    bot = MatrixBot(settings, services, build_router(services))
    calls: list[str] = []

    async def join(room: str, *args: Any, **kwargs: Any) -> JoinResponse:
        return JoinResponse(room_id=room.replace("#", "!"))

    async def ready() -> None:
        calls.append("ready")

    bot.client.join = join  # type: ignore[method-assign]
    bot.on_ready.append(ready)
    try:
        await bot._ensure_rooms()
        # Kicked from a configured room (a sync's "leave"), then joined again.
        bot._joined_config_rooms = False
        bot._last_join_attempt -= JOIN_RETRY_SECONDS
        await bot._ensure_rooms()
        assert bot._joined_config_rooms
        assert calls == ["ready"]
    finally:
        await bot.close()
        await db.close()


async def test_client_a_failed_invite_join_is_retried(tmp_path: Path) -> None:
    from nio import InviteMemberEvent, JoinError

    settings = make_settings(
        matrix={
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:test",
            "password": "x" * 8,
            "store_path": str(tmp_path / "store"),
        }
    )
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    services = make_services(db, settings, clock=ManualClock(START))
    bot = MatrixBot(settings, services, build_router(services))
    answers: list[Any] = [JoinError("busy", "M_UNKNOWN"), JoinResponse(room_id="!r")]
    tried: list[str] = []

    async def join(room: str, *args: Any, **kwargs: Any) -> Any:
        tried.append(room)
        return answers.pop(0)

    bot.client.join = join  # type: ignore[method-assign]
    invite = InviteMemberEvent(
        {"type": "m.room.member"}, "@alice:test", "@bot:test", "invite", None, {}
    )
    try:
        await bot._on_invite("!r", [invite])
        await bot._retry_invites()  # not yet: retries wait a while
        assert tried == ["!r"]
        bot._last_invite_retry -= JOIN_RETRY_SECONDS
        await bot._retry_invites()
        assert tried == ["!r", "!r"] and not bot._failed_invites
    finally:
        await bot.close()
        await db.close()
