"""Turning a handler's replies into outbox rows (sent after the transaction commits).

Everything goes through the :class:`~bot.messaging.Messenger`: replies (Markdown) through
``post()`` (``{prefix}`` substituted here: the bodies' user parts are escaped), reactions
through ``react()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.context import IncomingMessage, Outbound, Reply
from bot.limits import ROOM_NOTICE, Verdict
from bot.messaging import InThread, Message, Messenger, ReplyTo, Target, ToPerson, ToRoom, md
from bot.messaging.md import with_prefix

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.services import Services


async def queue_reply(
    services: Services,
    session: AsyncSession,
    msg: IncomingMessage,
    reply: Reply | None,
    outbound: list[Outbound],
) -> None:
    """Queue ``reply`` to ``msg`` (room limits applied) and the handler's further messages."""
    if reply is not None and msg.room_id != services.rooms.triage:
        limits = services.limits
        verdict = limits.check(limits.replies, msg.room_id)
        if verdict is not Verdict.OK:
            reply = Reply(ROOM_NOTICE) if verdict is Verdict.NOTIFY else None
    if reply is not None and reply.react:
        await Messenger.react(
            session,
            ReplyTo(msg.room_id, msg.event_id),
            reply.react,
            key=msg.event_id,
            private=msg.is_direct,
            source_event_id=msg.event_id,
        )
    elif reply is not None:
        to: Target = ReplyTo(msg.room_id, msg.event_id)
        if msg.thread_root:
            to = InThread(msg.room_id, msg.thread_root, in_reply_to=msg.event_id)
        message = Message(
            _text(services, reply.text),
            to=to,
            key=msg.event_id,
            mentions=reply.mentions,
            private=msg.is_direct,  # what the bot tells one person stays with them
            source_event_id=msg.event_id,
        )
        await Messenger.post(session, message)
    await queue_outbound(services, session, msg.event_id, outbound)


async def queue_outbound(
    services: Services, session: AsyncSession, source_event_id: str, outbound: list[Outbound]
) -> None:
    """Queue a handler's further messages, keyed by the event that caused them."""
    for seq, out in enumerate(outbound, start=1):
        to: Target
        if out.dm_user_id is not None:
            to = ToPerson(out.dm_user_id)
        elif out.in_reply_to is not None:
            assert out.room_id is not None
            to = ReplyTo(out.room_id, out.in_reply_to)
        else:
            assert out.room_id is not None
            to = ToRoom(out.room_id)
        own_key = out.txn_key is not None
        chosen = out.txn_key or out.key
        message = Message(
            _text(services, out.text),
            to=to,
            key=chosen or source_event_id,
            mentions=out.mentions,
            notice=out.notice,
            private=out.private,
            source_event_id=None if own_key else source_event_id,
        )
        await Messenger.post(session, message, seq=0 if chosen else seq)


def _text(services: Services, text: str) -> str:
    """A Markdown text with ``{prefix}`` substituted."""
    return with_prefix(text, services.settings.bot.command_prefix)


async def queue_text_reply(
    services: Services, session: AsyncSession, *, event_id: str, room_id: str, text: str
) -> None:
    """Queue a plain-text notice (shown exactly as written) in reply to ``event_id``."""
    message = Message(
        md.escape(text), to=ReplyTo(room_id, event_id), key=event_id, source_event_id=event_id
    )
    await Messenger.post(session, message)
