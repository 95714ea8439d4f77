"""Build Matrix event content (plain dicts; no nio import, so the router can use it)."""

from __future__ import annotations

import html
from typing import Any

# Synapse rejects events over 64 KiB; leave room for the envelope and the HTML twin.
MAX_BODY_CHARS = 24_000
TRUNCATED = "\n… (message shortened)"


def _clip(text: str) -> str:
    if len(text) <= MAX_BODY_CHARS:
        return text
    return text[: MAX_BODY_CHARS - len(TRUNCATED)] + TRUNCATED


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
        "body": _clip(text),
        "format": "org.matrix.custom.html",
        "formatted_body": _clip(html_body if html_body is not None else plain_to_html(text)),
        "m.mentions": {"user_ids": sorted(set(mentions))} if mentions else {},
    }
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
