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
        await bot.joins.ensure_rooms()
        # Kicked from a configured room (a sync's "leave"), then joined again.
        bot.joins.joined_config_rooms = False
        bot.joins.last_join_attempt -= JOIN_RETRY_SECONDS
        await bot.joins.ensure_rooms()
        assert bot.joins.joined_config_rooms
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
        await bot.joins.on_invite("!r", [invite])
        await bot.joins.retry_invites()  # not yet: retries wait a while
        assert tried == ["!r"]
        bot.joins.last_invite_retry -= JOIN_RETRY_SECONDS
        await bot.joins.retry_invites()
        assert tried == ["!r", "!r"] and not bot.joins.failed_invites
    finally:
        await bot.close()
        await db.close()


async def test_client_members_are_read_again_from_the_server_after_a_gap(tmp_path: Path) -> None:
    """A limited (gappy) sync may hide a leave: the team is re-read from /joined_members."""
    from nio import JoinedMembersResponse, RoomMember, RoomMessagesResponse, SyncResponse

    from bot.matrix.dispatch import Batch
    from bot.storage import migrate

    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await migrate.upgrade(url)
    settings = make_settings(
        matrix={
            "homeserver": "http://127.0.0.1:1",
            "user_id": "@bot:test",
            "password": "x" * 8,
            "store_path": str(tmp_path / "store"),
        }
    )
    db = Database(url)
    services = make_services(db, settings, clock=ManualClock(START))
    services.rooms.triage = "!triage:test"
    bot = MatrixBot(settings, services, build_router(services))
    asked: list[str] = []

    def member(user: str) -> dict[str, Any]:
        return {
            "type": "m.room.member",
            "state_key": user,
            "sender": user,
            "event_id": f"$join-{user}",
            "origin_server_ts": 1,
            "content": {"membership": "join"},
        }

    async def joined_members(room_id: str) -> JoinedMembersResponse:
        asked.append(room_id)
        members = [RoomMember("@bot:test", None, None), RoomMember("@lead:test", None, None)]
        return JoinedMembersResponse(members, room_id)

    async def room_messages(*args: Any, **kwargs: Any) -> RoomMessagesResponse:
        return RoomMessagesResponse("!triage:test", [], start="p", end=None)

    bot.client.joined_members = joined_members  # type: ignore[method-assign]
    bot.client.room_messages = room_messages  # type: ignore[method-assign]

    def sync(limited: bool, state: list[dict[str, Any]]) -> SyncResponse:
        room = {
            "state": {"events": state},
            "timeline": {"events": [], "limited": limited, "prev_batch": "p"},
        }
        return SyncResponse.from_dict(
            {"next_batch": "n", "rooms": {"join": {"!triage:test": room}}}
        )

    try:
        # The bot knows three members; one of them left during a gap it did not see.
        users = ("@bot:test", "@lead:test", "@gone:test")
        await bot.sync.process(sync(False, [member(u) for u in users]), "s0", Batch("t0"))
        assert bot.joined_members("!triage:test") == set(users)
        assert asked == []
        await bot.sync.process(sync(True, []), "s1", Batch("t1"))
        assert asked == ["!triage:test"]
        assert bot.joined_members("!triage:test") == {"@bot:test", "@lead:test"}
        assert "@gone:test" not in services.security_team()
    finally:
        await bot.close()
        await db.close()
