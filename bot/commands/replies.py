"""Turning a handler's replies into outbox rows (sent after the transaction commits).

The only place in ``bot.commands`` that writes the outbox. Markdown replies go through
``Messenger.post()`` (``{prefix}`` substituted here: the bodies' user parts are escaped);
the plain/HTML pairs not converted yet are queued as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.commands.context import IncomingMessage, Outbound, Reply
from bot.limits import ROOM_NOTICE, Verdict
from bot.matrix.content import message_content, reaction_content
from bot.messaging import InThread, Message, Messenger, ReplyTo, Target, ToPerson, ToRoom
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
    if reply is not None and reply.markdown and not reply.react:
        to: Target = ReplyTo(msg.room_id, msg.event_id)
        if msg.thread_root:
            to = InThread(msg.room_id, msg.thread_root, in_reply_to=msg.event_id)
        message = Message(
            with_prefix(reply.text, services.settings.bot.command_prefix),
            to=to,
            key=msg.event_id,
            mentions=reply.mentions,
            private=msg.is_direct,  # what the bot tells one person stays with them
            source_event_id=msg.event_id,
        )
        await Messenger.post(session, message)
    elif reply is not None:
        if reply.react:
            event_type, content = "m.reaction", reaction_content(msg.event_id, reply.react)
        else:
            event_type = "m.room.message"
            content = message_content(
                reply.text,
                reply.html,
                in_reply_to=msg.event_id,
                thread_root=msg.thread_root,
                mentions=reply.mentions,
            )
        await services.outbox.add(
            session,
            txn_key=msg.event_id,
            seq=0,
            room_id=msg.room_id,
            event_type=event_type,
            content=content,
            source_event_id=msg.event_id,
            private=msg.is_direct,  # what the bot tells one person stays with them
        )
    await queue_outbound(services, session, msg.event_id, outbound)


async def queue_outbound(
    services: Services, session: AsyncSession, source_event_id: str, outbound: list[Outbound]
) -> None:
    """Queue a handler's further messages, keyed by the event that caused them."""
    for seq, out in enumerate(outbound, start=1):
        own_key = out.txn_key is not None
        chosen = out.txn_key or out.key
        if out.markdown:
            await _post_outbound(services, session, source_event_id, seq, out)
            continue
        await services.outbox.add(
            session,
            txn_key=chosen or source_event_id,
            seq=0 if chosen else seq,
            room_id=out.room_id,
            dm_user_id=out.dm_user_id,
            content=message_content(
                out.text,
                out.html,
                notice=out.notice,
                in_reply_to=out.in_reply_to,
                mentions=out.mentions,
            ),
            source_event_id=None if own_key else source_event_id,
            private=out.private,
        )


async def _post_outbound(
    services: Services, session: AsyncSession, source_event_id: str, seq: int, out: Outbound
) -> None:
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
        with_prefix(out.text, services.settings.bot.command_prefix),
        to=to,
        key=chosen or source_event_id,
        mentions=out.mentions,
        notice=out.notice,
        private=out.private,
        source_event_id=None if own_key else source_event_id,
    )
    await Messenger.post(session, message, seq=0 if chosen else seq)


async def queue_text_reply(
    services: Services, session: AsyncSession, *, event_id: str, room_id: str, text: str
) -> None:
    """Queue a plain notice in reply to ``event_id`` (unreadable events, give-ups)."""
    await services.outbox.add(
        session,
        txn_key=event_id,
        room_id=room_id,
        content=message_content(text, in_reply_to=event_id),
        source_event_id=event_id,
    )
