"""Posting an incident's messages: once each, under a stable key, in Markdown."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messaging import (
    InThread,
    Message,
    Messenger,
    ReplyTo,
    Subject,
    Target,
    ToPerson,
    ToRoom,
)
from bot.services import Services


async def post(
    services: Services,
    session: AsyncSession,
    key: str,
    body: str,
    *,
    room_id: str | None = None,
    dm_user_id: str | None = None,
    mentions: tuple[str, ...] = (),
    thread_root: str | None = None,
    in_reply_to: str | None = None,
    subject: Subject | None = None,
) -> str:
    """Queue one Markdown message under the key ``key`` (once, whatever retries happen).

    ``{prefix}`` in ``body`` becomes the command prefix (``body``'s user parts are
    escaped, so no user text can contain it as a placeholder).
    """
    to: Target
    if dm_user_id is not None:
        to = ToPerson(dm_user_id)
    elif thread_root is not None:
        assert room_id is not None
        to = InThread(room_id, thread_root)
    elif in_reply_to is not None:
        assert room_id is not None
        to = ReplyTo(room_id, in_reply_to)
    else:
        assert room_id is not None
        to = ToRoom(room_id)
    body = body.replace("{prefix}", services.settings.bot.command_prefix)
    message = Message(body, to=to, key=key, mentions=mentions, subject=subject, notice=True)
    return await Messenger.post(session, message)
