"""Build Matrix event content (plain dicts; no nio import, so the router can use it)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

# The homeserver rejects events over 64 KiB (65,536 bytes of JSON). Each of the two text
# fields may use 20,000 bytes, measured as escaped JSON (``\uXXXX`` for non-ASCII, as
# nio encodes it): that bounds the UTF-8 size too, and even an encrypted event, whose
# ciphertext is base64 (4/3 of the plaintext), stays well below the limit.
MAX_FIELD_BYTES = 20_000
MAX_BODY_CHARS = MAX_FIELD_BYTES  # the old name: a field never has more characters than this
TRUNCATED = "\n… (message shortened)"
# An outbox row of a Markdown message keeps its Markdown under this key (no body yet):
# it is rendered once, when sent. Rows without it hold the finished event (older rows).
MARKDOWN_KEY = "io.helpdesk.markdown"


def encoded_size(text: str) -> int:
    """Bytes ``text`` takes as a JSON string value (quotes not counted), worst encoding."""
    return len(json.dumps(text, ensure_ascii=True)) - 2


def clip(text: str, *, is_html: bool = False) -> str:
    """``text`` shortened to fit one field of an event (never ending inside an HTML tag)."""
    if encoded_size(text) <= MAX_FIELD_BYTES:
        return text
    budget = MAX_FIELD_BYTES - encoded_size(TRUNCATED)
    # Find the longest prefix that fits (binary search: sizes grow with length).
    low, high = 0, min(len(text), budget)
    while low < high:
        mid = (low + high + 1) // 2
        if encoded_size(text[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    cut = text[:low]
    if is_html and cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]  # never end inside a tag
    return cut + TRUNCATED


def plain_to_html(text: str) -> str:
    """Escape plain text for ``formatted_body``, keeping line breaks."""
    return html.escape(text, quote=True).replace("\n", "<br/>")


def message_content(
    text: str,
    html_body: str | None = None,
    *,
    notice: bool = True,
    in_reply_to: str | None = None,
    thread_root: str | None = None,
    mentions: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """An ``m.room.message`` content: ``m.notice`` by default, HTML plus a plain body.

    Args:
        text: the plain-text body (the fallback every client can show).
        html_body: HTML with user-supplied parts already escaped; derived from ``text``
            when omitted.
        notice: send as ``m.notice`` (bots never answer notices, so no bot loops).
        in_reply_to: the event answered, as a reply relation.
        thread_root: keep the answer in this thread.
        mentions: user ids mentioned on purpose (``m.mentions``); nobody else is pinged.
    """
    content: dict[str, Any] = {
        "msgtype": "m.notice" if notice else "m.text",
        "body": clip(text),
        "format": "org.matrix.custom.html",
        "formatted_body": clip(
            html_body if html_body is not None else plain_to_html(text), is_html=True
        ),
    }
    return _with_relations(content, in_reply_to, thread_root, mentions)


def markdown_content(
    markdown: str,
    *,
    notice: bool = True,
    in_reply_to: str | None = None,
    thread_root: str | None = None,
    mentions: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """What an outbox row stores for a Markdown message (arguments as in `message_content`).

    The event without its text fields: ``msgtype``, ``m.mentions``, ``m.relates_to``,
    and the Markdown under :data:`MARKDOWN_KEY`. ``bot.matrix.render.event_content``
    turns it into the event (plain ``body`` + HTML ``formatted_body``) when it is sent.
    """
    content: dict[str, Any] = {
        "msgtype": "m.notice" if notice else "m.text",
        MARKDOWN_KEY: markdown,
    }
    return _with_relations(content, in_reply_to, thread_root, mentions)


def _with_relations(
    content: dict[str, Any],
    in_reply_to: str | None,
    thread_root: str | None,
    mentions: tuple[str, ...] | list[str],
) -> dict[str, Any]:
    content["m.mentions"] = {"user_ids": sorted(set(mentions))} if mentions else {}
    if thread_root:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": in_reply_to is None,
            "m.in_reply_to": {"event_id": in_reply_to or thread_root},
        }
    elif in_reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": in_reply_to}}
    return content


def reaction_content(target_event_id: str, key: str) -> dict[str, Any]:
    """An ``m.reaction`` annotating ``target_event_id`` with ``key``."""
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": target_event_id, "key": key}}


# Synapse's legacy push rules read ``content.body`` only, and only when ``m.mentions`` is
# absent: ``.m.rule.contains_display_name``, ``.m.rule.contains_user_name`` (each as a
# word) and ``.m.rule.roomnotif`` ("@room"). The localpart rule is a glob: a name with
# glob characters could match text it does not contain, so it always counts as possible.
ROOM_MENTION = "@room"
_GLOB = frozenset("*?[")


def legacy_mention_possible(body: str, names: Iterable[str]) -> bool:
    """Whether a legacy push rule could fire on ``body`` for a member named in ``names``.

    Conservative: a case-insensitive substring test (a superset of Synapse's word match)
    of each non-empty name and of "@room".

    Args:
        body: the event's plain ``body``.
        names: every member's localpart and display name.

    Returns:
        True if some member could be pinged by the legacy rules (or everyone by "@room").
    """
    folded = body.casefold()
    if ROOM_MENTION in folded:
        return True
    for name in names:
        if name and (name.casefold() in folded or not _GLOB.isdisjoint(name)):
            return True
    return False


def without_redundant_mentions(
    content: dict[str, Any], names: Iterable[str] | None
) -> dict[str, Any]:
    """``content`` without an empty ``m.mentions`` where leaving it out pings nobody either.

    An empty ``m.mentions`` ("pings nobody") only matters when a legacy push rule could
    fire; Synapse validates the key with a JSON schema on every send, which costs it
    ~2.5 ms per event (docs/benchmarks.md, fourth round). Never mutates ``content``.

    Args:
        content: an ``m.room.message`` content.
        names: every room member's localpart and display name; None when unknown (an
            encrypted or large room, or one not synced yet): the key is kept.

    Returns:
        A copy without ``m.mentions``, or ``content`` itself when the key must stay.
    """
    if names is None or content.get("m.mentions") != {}:
        return content
    body = content.get("body")
    if not isinstance(body, str) or legacy_mention_possible(body, names):
        return content
    return {key: value for key, value in content.items() if key != "m.mentions"}
