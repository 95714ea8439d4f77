"""Turn raw Matrix events into neutral value objects (IncomingMessage, Reaction)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.commands.context import IncomingMessage, Reaction, Redaction, RoomKind

# Only text a person typed; m.notice is what bots send (answering it loops bots).
ANSWERED_MSGTYPES = frozenset({"m.text"})


def event_time(event: dict[str, Any]) -> datetime:
    """The event's origin timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(int(event.get("origin_server_ts", 0)) / 1000, UTC)


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (senders control content)."""
    return value if isinstance(value, dict) else {}


def _mentions(content: dict[str, Any], bot_user_id: str) -> bool:
    user_ids = _object(content.get("m.mentions")).get("user_ids")
    if isinstance(user_ids, list) and bot_user_id in user_ids:
        return True
    formatted = content.get("formatted_body")
    return isinstance(formatted, str) and f"matrix.to/#/{bot_user_id}" in formatted


def to_message(
    event: dict[str, Any], room_id: str, room_kind: RoomKind, bot_user_id: str
) -> IncomingMessage | None:
    """An :class:`IncomingMessage` for a person's text message, else None.

    Edits (``m.replace``) are dropped: the original was answered already.
    """
    if event.get("type") != "m.room.message" or event.get("sender") == bot_user_id:
        return None
    content = event.get("content")
    if not isinstance(content, dict) or content.get("msgtype") not in ANSWERED_MSGTYPES:
        return None
    body = content.get("body")
    if not isinstance(body, str) or not body.strip():
        return None
    relates = _object(content.get("m.relates_to"))
    if relates.get("rel_type") == "m.replace":
        return None
    in_reply_to = _object(relates.get("m.in_reply_to")).get("event_id")
    thread_root = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
    if thread_root and relates.get("is_falling_back", True):
        in_reply_to = None  # the "reply" is only the thread fallback, not a real reply
    formatted = content.get("formatted_body")
    return IncomingMessage(
        event_id=str(event["event_id"]),
        room_id=room_id,
        sender=str(event["sender"]),
        body=body,
        timestamp=event_time(event),
        room_kind=room_kind,
        formatted_body=formatted if isinstance(formatted, str) else None,
        mentions_bot=_mentions(content, bot_user_id),
        in_reply_to=in_reply_to if isinstance(in_reply_to, str) else None,
        thread_root=thread_root if isinstance(thread_root, str) else None,
    )


def to_reaction(
    event: dict[str, Any], room_id: str, room_kind: RoomKind, bot_user_id: str
) -> Reaction | None:
    """A :class:`Reaction` for someone's ``m.reaction``, else None."""
    if event.get("type") != "m.reaction" or event.get("sender") == bot_user_id:
        return None
    relates = _object(_object(event.get("content")).get("m.relates_to"))
    target = relates.get("event_id")
    if relates.get("rel_type") != "m.annotation" or not isinstance(target, str) or not target:
        return None
    return Reaction(
        event_id=str(event["event_id"]),
        room_id=room_id,
        sender=str(event["sender"]),
        key=str(relates.get("key", "")),
        target_event_id=target,
        timestamp=event_time(event),
        room_kind=room_kind,
    )


def to_redaction(
    event: dict[str, Any], room_id: str, room_kind: RoomKind, bot_user_id: str
) -> Redaction | None:
    """A :class:`Redaction` for someone's ``m.room.redaction``, else None.

    The redacted event id is at the top level before room version 11, in the content
    from 11 on; both are read.
    """
    if event.get("type") != "m.room.redaction" or event.get("sender") == bot_user_id:
        return None
    redacts = _object(event.get("content")).get("redacts") or event.get("redacts")
    if not isinstance(redacts, str) or not redacts:
        return None
    return Redaction(
        event_id=str(event["event_id"]),
        room_id=room_id,
        sender=str(event["sender"]),
        redacts=redacts,
        timestamp=event_time(event),
        room_kind=room_kind,
    )


def own_membership(event: dict[str, Any], bot_user_id: str) -> str | None:
    """The bot's membership if ``event`` is its own ``m.room.member`` event."""
    if event.get("type") != "m.room.member" or event.get("state_key") != bot_user_id:
        return None
    membership = _object(event.get("content")).get("membership")
    return membership if isinstance(membership, str) else None
