"""NioTransport's encrypted-room rules, with a stand-in for nio's client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nio import (
    AsyncClientConfig,
    JoinedRoomsResponse,
    MatrixRoom,
    RoomCreateResponse,
    RoomSendResponse,
)

from bot.matrix.content import message_content
from bot.matrix.render import event_content
from bot.matrix.sender import MAX_MEMBERS_CHECKED, NioTransport, error_from
from bot.messaging import Message, ReplyTo
from bot.messaging.messenger import stored_content
from bot.outbox import Failure, SendError


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


class FakeHttp:
    def __init__(self, status: int):
        self.status = status


class FakeError:
    def __init__(self, status: int | None, errcode: str | None, retry_after_ms: int | None = None):
        self.status_code = errcode
        self.message = "message"
        self.retry_after_ms = retry_after_ms
        self.transport_response = FakeHttp(status) if status is not None else None


@pytest.mark.parametrize(
    ("status", "errcode", "failure"),
    [
        (429, "M_LIMIT_EXCEEDED", Failure.RATE_LIMITED),
        (400, "M_UNKNOWN", Failure.PERMANENT),  # a relation to an unknown event
        (502, "M_UNKNOWN", Failure.TRANSIENT),  # a DM to a user whose server is down
        (500, None, Failure.TRANSIENT),
        (403, "M_FORBIDDEN", Failure.PERMANENT),
        (413, "M_TOO_LARGE", Failure.PERMANENT),
        (401, "M_UNKNOWN_TOKEN", Failure.AUTH),
        (None, None, Failure.TRANSIENT),
    ],
)
def test_sender_errors_are_classified_by_status_and_errcode(
    status: int | None, errcode: str | None, failure: Failure
) -> None:
    error = error_from(FakeError(status, errcode, 1500), "send")
    assert error.failure is failure
    assert error.retry_after == (1.5 if failure is Failure.RATE_LIMITED else None)


def test_sender_clips_by_encoded_size_below_the_event_limit() -> None:
    for char in ("a", "é", "字", "🔐", '"'):
        content = message_content(char * 70_000)
        assert content["body"].endswith("(message shortened)")
        as_sent = json.dumps(content)  # nio's encoding: non-ASCII escaped
        assert len(as_sent) < 48_000, char
        # Even encrypted (base64 of the payload), the event stays below 64 KiB.
        assert len(as_sent) * 4 / 3 + 2_000 < 65_536
    html = message_content("x", "<b>" + "y" * 30_000 + "</b>" + "<i>z</i>" * 1000)
    assert "<" not in html["formatted_body"].rsplit(">", 1)[-1]
    short = message_content("héllo 🔐")
    assert short["body"] == "héllo 🔐"


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


def _room(room_id: str, members: int = 3, *, encrypted: bool = False) -> MatrixRoom:
    """A room as nio knows it after a sync: the bot, Alice, and unnamed others."""
    room = MatrixRoom(room_id, "@bot:x", encrypted=encrypted)
    room.add_member("@bot:x", "Security Helpdesk", None)
    room.add_member("@alice:x", "Alice Liddell", None)
    for n in range(members - 3):
        room.add_member(f"@user{n}:x", None, None)
    room.add_member("@carol:x", None, None, invited=True)
    return room


async def _sent_content(rooms: dict[str, MatrixRoom], room_id: str, text: str) -> dict:
    client = FakeClient(rooms=dict(rooms), joined=list(rooms))
    client.olm = None  # encryption off: only the mentions rule is under test
    sent: list[dict] = []

    async def room_send(room_id: str, event_type: str, content: dict, **kw: Any) -> Any:
        sent.append(content)
        return RoomSendResponse("$e", room_id)

    client.room_send = room_send  # type: ignore[attr-defined]
    stored = stored_content(Message(text, to=ReplyTo(room_id, "$q"), key="k"))
    assert event_content(stored)["m.mentions"] == {}
    await NioTransport(client).send_event(room_id, "m.room.message", stored, "t1")  # type: ignore[arg-type]
    return sent[0]


async def test_sender_leaves_out_empty_mentions_only_where_nobody_could_be_pinged() -> None:
    """Synapse validates ``m.mentions`` on every send (~2.5 ms); "pong" needs none."""
    rooms = {
        "!small": _room("!small"),
        "!secret": _room("!secret", encrypted=True),
        "!big": _room("!big", members=MAX_MEMBERS_CHECKED + 1),
    }
    assert len({**rooms["!big"].users, **rooms["!big"].invited_users}) > MAX_MEMBERS_CHECKED
    plain = await _sent_content(rooms, "!small", "pong")
    assert "m.mentions" not in plain and plain["body"] == "pong"
    assert plain["m.relates_to"] == {"m.in_reply_to": {"event_id": "$q"}}
    for room_id in ("!secret", "!big", "!unknown"):  # clients decide / too big / not synced
        assert (await _sent_content(rooms, room_id, "pong"))["m.mentions"] == {}, room_id
    for named in ("ask alice", "ask Alice Liddell", "ask carol (invited)", "ping @room"):
        assert (await _sent_content(rooms, "!small", named))["m.mentions"] == {}, named
    # The sender is never notified of its own event: the bot's names do not count.
    own = await _sent_content(rooms, "!small", "ask in #security-helpdesk, Security Helpdesk")
    assert "m.mentions" not in own
