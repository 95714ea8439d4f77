"""NioTransport's encrypted-room rules, with a stand-in for nio's client."""

from __future__ import annotations

from typing import Any

import pytest
from nio import AsyncClientConfig, JoinedRoomsResponse, RoomCreateResponse

from bot.matrix.sender import NioTransport
from bot.outbox import SendError


class FakeClient:
    def __init__(self, *, rooms: dict[str, Any], joined: list[str]):
        self.olm = object()  # encryption on
        self.rooms = rooms
        self.joined = joined
        self.should_query_keys = False
        self.created: dict[str, Any] = {}
        self.config = AsyncClientConfig(max_timeouts=2)
        self.user_id = "@bot:x"
        self.create_max_timeouts: list[int | None] = []

    async def joined_rooms(self) -> JoinedRoomsResponse:
        return JoinedRoomsResponse(self.joined)

    async def room_create(self, **kwargs: Any) -> RoomCreateResponse:
        self.created = kwargs
        self.create_max_timeouts.append(self.config.max_timeouts)
        return RoomCreateResponse("!new")


async def test_sender_room_not_synced_yet_is_transient() -> None:
    transport = NioTransport(FakeClient(rooms={}, joined=["!dm"]))  # type: ignore[arg-type]
    with pytest.raises(SendError) as caught:
        await transport.send_event("!dm", "m.room.message", {}, "t1")
    assert not caught.value.permanent


async def test_sender_room_the_bot_is_not_in_is_permanent() -> None:
    transport = NioTransport(FakeClient(rooms={}, joined=[]))  # type: ignore[arg-type]
    with pytest.raises(SendError) as caught:
        await transport.send_event("!gone", "m.room.message", {}, "t1")
    assert caught.value.permanent


async def test_sender_opens_encrypted_dms_when_encryption_is_on() -> None:
    client = FakeClient(rooms={}, joined=[])
    assert await NioTransport(client, encrypt_new_rooms=True).open_direct_room("@a:x") == "!new"  # type: ignore[arg-type]
    (state,) = client.created["initial_state"]
    assert state["type"] == "m.room.encryption"
    assert state["content"] == {"algorithm": "m.megolm.v1.aes-sha2"}
    await NioTransport(client).open_direct_room("@a:x")  # type: ignore[arg-type]
    assert client.created["initial_state"] == []


class FakeRoom:
    def __init__(self, users: set[str]):
        self.users = {u: object() for u in users}
        self.invited_users: dict[str, object] = {}
        self.join_rule, self.name, self.canonical_alias = "invite", None, None
        self.encrypted = False  # the invite rule alone is under test here


async def test_sender_waits_for_the_invite_of_a_dm_it_opened() -> None:
    """A DM seen in a sync from before its invite must not get the room key yet."""
    room = FakeRoom({"@bot:x"})
    client = FakeClient(rooms={"!new": room}, joined=["!new"])
    client.user_id = "@bot:x"
    sent: list[str] = []

    async def room_send(room_id: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(room_id)
        from nio import RoomSendResponse

        return RoomSendResponse("$e", room_id)

    client.room_send = room_send  # type: ignore[attr-defined]
    transport = NioTransport(client, encrypt_new_rooms=True)  # type: ignore[arg-type]
    await transport.open_direct_room("@alice:x")
    with pytest.raises(SendError) as caught:
        await transport.send_event("!new", "m.room.message", {}, "t1")
    assert not caught.value.permanent and sent == []
    room.users["@alice:x"] = object()  # the next sync brought the invite
    assert await transport.send_event("!new", "m.room.message", {}, "t1") == "$e"
    assert sent == ["!new"]


async def test_sender_creates_a_dm_without_nio_retrying_the_request() -> None:
    """nio repeats a timed-out request; a repeated createRoom opened a second room."""
    client = FakeClient(rooms={}, joined=[])
    assert await NioTransport(client).open_direct_room("@a:x") == "!new"  # type: ignore[arg-type]
    assert client.create_max_timeouts == [0]
    assert client.config.max_timeouts == 2  # restored for every other request


class MemberRoom:
    """What nio knows of a room: members (joined and invited), join rule, name."""

    def __init__(self, joined: set[str], invited: set[str] = frozenset(), **extra: Any):
        self.invited_users = {u: object() for u in invited}
        self.users = {u: object() for u in joined | set(invited)}
        self.join_rule = extra.get("join_rule", "invite")
        self.name = extra.get("name")
        self.canonical_alias = None


async def test_sender_finds_the_dm_it_already_opened_instead_of_a_second_one() -> None:
    """A retry after a lost createRoom answer reuses the room; group rooms never match."""
    rooms = {
        "!group": MemberRoom({"@bot:x", "@a:x", "@c:x"}),
        "!named": MemberRoom({"@bot:x", "@a:x"}, name="Project"),
        "!triage": MemberRoom({"@bot:x", "@a:x"}),
        "!lost": MemberRoom({"@bot:x"}, invited={"@a:x"}),
    }
    client = FakeClient(rooms=rooms, joined=list(rooms))
    transport = NioTransport(client)  # type: ignore[arg-type]
    transport.reserved_rooms = lambda: {"!triage"}
    assert await transport.open_direct_room("@a:x") == "!lost"
    assert client.created == {}  # nothing created
    assert await transport.direct_room_usable("!lost", "@a:x")
    for room_id in ("!group", "!named", "!triage"):
        assert not await transport.direct_room_usable(room_id, "@a:x"), room_id
    rooms["!lost"] = MemberRoom({"@bot:x"})  # the person left (or rejected the invite)
    assert not await transport.direct_room_usable("!lost", "@a:x")
    assert await transport.open_direct_room("@a:x") == "!new"
