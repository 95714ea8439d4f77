"""Raw Matrix events to IncomingMessage / Reaction (bot.matrix.events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.commands.context import RoomKind
from bot.matrix.events import own_membership, to_message, to_reaction

BOT = "@helpdesk:test"
ROOM = "!room:test"


def message_event(body: str = "!ping", sender: str = "@alice:test", **content: Any) -> dict:
    return {
        "type": "m.room.message",
        "event_id": "$q:test",
        "sender": sender,
        "origin_server_ts": 1_795_000_000_000,
        "content": {"msgtype": "m.text", "body": body, **content},
    }


def convert(event: dict, kind: RoomKind = RoomKind.HELPDESK):
    return to_message(event, ROOM, kind, BOT)


def test_events_text_message_becomes_incoming_message() -> None:
    msg = convert(message_event("!ping"), RoomKind.DIRECT)
    assert msg is not None
    assert msg.event_id == "$q:test"
    assert msg.room_id == ROOM
    assert msg.sender == "@alice:test"
    assert msg.body == "!ping"
    assert msg.room_kind is RoomKind.DIRECT and msg.is_direct
    assert msg.timestamp == datetime.fromtimestamp(1_795_000_000, UTC)
    assert msg.mentions_bot is False
    assert msg.in_reply_to is None and msg.thread_root is None


@pytest.mark.parametrize("msgtype", ["m.notice", "m.emote", "m.image"])
def test_events_non_text_msgtypes_ignored(msgtype: str) -> None:
    event = message_event()
    event["content"]["msgtype"] = msgtype
    assert convert(event) is None


def test_events_own_messages_ignored() -> None:
    assert convert(message_event(sender=BOT)) is None


@pytest.mark.parametrize("body", ["", "   ", None])
def test_events_empty_body_ignored(body: Any) -> None:
    assert convert(message_event(body)) is None


def test_events_other_event_types_ignored() -> None:
    event = message_event()
    event["type"] = "m.room.topic"
    assert convert(event) is None


def test_events_edits_ignored() -> None:
    event = message_event(
        "* !ping",
        **{
            "m.new_content": {"msgtype": "m.text", "body": "!ping"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig:test"},
        },
    )
    assert convert(event) is None


def test_events_mention_via_m_mentions() -> None:
    msg = convert(message_event("hey, ping", **{"m.mentions": {"user_ids": [BOT]}}))
    assert msg is not None and msg.mentions_bot is True

    other = convert(message_event("hey", **{"m.mentions": {"user_ids": ["@bob:test"]}}))
    assert other is not None and other.mentions_bot is False


def test_events_mention_via_formatted_body_link() -> None:
    html = f'<a href="https://matrix.to/#/{BOT}">Helpdesk</a>: ping'
    msg = convert(
        message_event("Helpdesk: ping", format="org.matrix.custom.html", formatted_body=html)
    )
    assert msg is not None
    assert msg.mentions_bot is True
    assert msg.formatted_body == html


def test_events_reply_parsed() -> None:
    msg = convert(message_event("yes", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$a"}}}))
    assert msg is not None
    assert msg.in_reply_to == "$a"
    assert msg.thread_root is None


def test_events_thread_message_without_real_reply() -> None:
    relates = {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": True,
        "m.in_reply_to": {"event_id": "$latest"},
    }
    msg = convert(message_event("in thread", **{"m.relates_to": relates}))
    assert msg is not None
    assert msg.thread_root == "$root"
    assert msg.in_reply_to is None  # only the thread fallback, not a reply


def test_events_thread_message_with_real_reply() -> None:
    relates = {
        "rel_type": "m.thread",
        "event_id": "$root",
        "is_falling_back": False,
        "m.in_reply_to": {"event_id": "$answered"},
    }
    msg = convert(message_event("in thread", **{"m.relates_to": relates}))
    assert msg is not None
    assert msg.thread_root == "$root"
    assert msg.in_reply_to == "$answered"


def reaction_event(sender: str = "@alice:test", **relates: Any) -> dict:
    return {
        "type": "m.reaction",
        "event_id": "$r:test",
        "sender": sender,
        "origin_server_ts": 1_795_000_000_000,
        "content": {"m.relates_to": relates},
    }


def test_events_reaction_parsed() -> None:
    event = reaction_event(rel_type="m.annotation", event_id="$target", key="👍")
    reaction = to_reaction(event, ROOM, RoomKind.TRIAGE, BOT)
    assert reaction is not None
    assert reaction.event_id == "$r:test"
    assert reaction.target_event_id == "$target"
    assert reaction.key == "👍"
    assert reaction.sender == "@alice:test"
    assert reaction.room_id == ROOM and reaction.room_kind is RoomKind.TRIAGE


@pytest.mark.parametrize(
    "event",
    [
        reaction_event(sender=BOT, rel_type="m.annotation", event_id="$t", key="✅"),
        reaction_event(rel_type="m.reference", event_id="$t"),
        reaction_event(rel_type="m.annotation", key="👍"),
        message_event(),
    ],
    ids=["own", "not-annotation", "no-target", "not-reaction"],
)
def test_events_reaction_ignored(event: dict) -> None:
    assert to_reaction(event, ROOM, RoomKind.HELPDESK, BOT) is None


def test_events_own_membership() -> None:
    event = {"type": "m.room.member", "state_key": BOT, "content": {"membership": "join"}}
    assert own_membership(event, BOT) == "join"
    assert own_membership({**event, "state_key": "@alice:test"}, BOT) is None


# Anyone in a room can send content of any shape; one odd event must not raise, or the
# sync loop would retry the same batch for ever and the bot would answer nobody.
@pytest.mark.parametrize(
    "content",
    [
        {"m.relates_to": {"m.in_reply_to": "$not-an-object"}},
        {"m.relates_to": "not-an-object"},
        {"m.relates_to": {"rel_type": "m.thread", "event_id": 42}},
        {"m.mentions": {"user_ids": 5}},
        {"m.mentions": "everyone"},
        {"formatted_body": {"html": "x"}},
    ],
    ids=["in-reply-to-str", "relates-str", "thread-id-int", "user-ids-int", "mentions-str", "html"],
)
def test_events_malformed_message_content_does_not_raise(content: dict) -> None:
    msg = convert(message_event("!ping", **content))
    assert msg is not None
    assert msg.body == "!ping"
    assert msg.mentions_bot is False
    assert msg.in_reply_to is None and msg.thread_root is None


@pytest.mark.parametrize(
    "content",
    [
        "not-an-object",
        {"m.relates_to": "x"},
        {"m.relates_to": {"rel_type": "m.annotation", "event_id": 7}},
    ],
    ids=["content-str", "relates-str", "target-int"],
)
def test_events_malformed_reaction_is_ignored(content: Any) -> None:
    event = reaction_event()
    event["content"] = content
    assert to_reaction(event, ROOM, RoomKind.HELPDESK, BOT) is None


def test_events_answerable_since_is_the_later_of_join_and_retention() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.matrix.rooms import answerable_since

    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    recent_join = now - timedelta(days=2)
    old_join = now - timedelta(days=400)
    assert answerable_since(recent_join, now, 30) == recent_join
    assert answerable_since(old_join, now, 30) == now - timedelta(days=30)
