"""NioTransport's encrypted-room rules, with a stand-in for nio's client."""

from __future__ import annotations

from typing import Any

import pytest
from nio import JoinedRoomsResponse, RoomCreateResponse

from bot.matrix.sender import NioTransport
from bot.outbox import SendError


class FakeClient:
    def __init__(self, *, rooms: dict[str, Any], joined: list[str]):
        self.olm = object()  # encryption on
        self.rooms = rooms
        self.joined = joined
        self.should_query_keys = False
        self.created: dict[str, Any] = {}

    async def joined_rooms(self) -> JoinedRoomsResponse:
        return JoinedRoomsResponse(self.joined)

    async def room_create(self, **kwargs: Any) -> RoomCreateResponse:
        self.created = kwargs
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
