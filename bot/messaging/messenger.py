"""The one writer of outbox rows, and the questions features ask about sent messages."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.matrix.content import markdown_content, reaction_content
from bot.matrix.render import event_content, to_plain
from bot.messaging.message import InThread, Message, ReplyTo, Subject, ToPerson, ToRoom
from bot.outbox.queue import Outbox
from bot.storage.models import OutboxMessage

PREVIEW_CHARS = 500


@dataclass(frozen=True)
class Sent:
    """What the bot knows about one of its queued messages, even after housekeeping."""

    subject: Subject | None
    preview: str  # the start of its plain text ("" for a private message once sent)
    txn_id: str = ""  # the transaction id it was queued under (Messenger.post's return)
    event_id: str | None = None  # its event, once sent
    room_id: str | None = None  # where it went (a DM's room once the outbox opened it)


def _relations(message: Message) -> tuple[str | None, str | None]:
    """``(in_reply_to, thread_root)`` of the message's target."""
    match message.to:
        case ReplyTo(event_id=event_id):
            return event_id, None
        case InThread(root_event_id=root, in_reply_to=answered):
            return answered, root
    return None, None


def stored_content(message: Message) -> dict[str, Any]:
    """What the outbox row of ``message`` stores: its Markdown, relations and mentions.

    The text is rendered once, when the row is sent (``bot.matrix.render.event_content``).
    """
    in_reply_to, thread_root = _relations(message)
    return markdown_content(
        message.body,
        notice=message.notice,
        in_reply_to=in_reply_to,
        thread_root=thread_root,
        mentions=message.mentions,
    )


def content_for(message: Message) -> dict[str, Any]:
    """The ``m.room.message`` event ``message`` becomes when sent."""
    return event_content(stored_content(message))


class Messenger:
    """Queue messages in the caller's transaction; answer what was sent about what.

    The only writer of outbox rows outside ``bot.outbox`` (a test checks it).
    """

    @staticmethod
    async def post(session: AsyncSession, message: Message, *, seq: int = 0) -> str:
        """Queue ``message`` (sent once the caller's transaction commits).

        Args:
            session: the caller's transaction.
            message: what to say, where, under which idempotency key.
            seq: the n-th message under one key (kept for the keys of older rows).

        Returns:
            The Matrix transaction id the message is (or was already) queued under.
        """
        # The preview is a record for later (what a pinned post said), not the event.
        preview = to_plain(message.body) if message.subject is not None else None
        return await _queue(session, message, stored_content(message), seq=seq, preview=preview)

    @staticmethod
    async def react(
        session: AsyncSession,
        target: ReplyTo,
        emoji: str,
        *,
        key: str,
        private: bool = False,
        source_event_id: str | None = None,
    ) -> str:
        """Queue a reaction ``emoji`` to ``target``'s event, under idempotency ``key``."""
        return await Outbox.add(
            session,
            txn_key=key,
            room_id=target.room_id,
            event_type="m.reaction",
            content=reaction_content(target.event_id, emoji),
            source_event_id=source_event_id,
            private=private,
        )

    @staticmethod
    async def sent_event(session: AsyncSession, subject: Subject) -> str | None:
        """The event id of the (first) sent message about ``subject``; None if not sent."""
        return await session.scalar(
            select(OutboxMessage.sent_event_id)
            .where(OutboxMessage.subject == str(subject), OutboxMessage.sent_event_id.is_not(None))
            .order_by(OutboxMessage.id)
            .limit(1)
        )

    @staticmethod
    async def subject_of(session: AsyncSession, event_id: str) -> Sent | None:
        """What the bot's message ``event_id`` was about; None if it is not the bot's."""
        return await _sent(session, OutboxMessage.sent_event_id == event_id)

    @staticmethod
    async def sent_by_keys(session: AsyncSession, txn_ids: Collection[str]) -> dict[str, Sent]:
        """What the messages queued under ``txn_ids`` became, by transaction id.

        Ids with no row (never queued, or pruned) are missing from the answer.
        """
        if not txn_ids:
            return {}
        rows = await _sent_rows(session, OutboxMessage.txn_id.in_(list(txn_ids)))
        return {sent.txn_id: sent for sent in rows}

    @staticmethod
    async def sent_by_key(session: AsyncSession, txn_id: str) -> Sent | None:
        """What the message queued under ``txn_id`` said (its preview), sent or not."""
        return await _sent(session, OutboxMessage.txn_id == txn_id)


async def _queue(
    session: AsyncSession,
    message: Message,
    content: dict[str, Any],
    *,
    seq: int,
    preview: str | None,
) -> str:
    room_id = dm_user_id = None
    match message.to:
        case ToPerson(user_id=user_id):
            dm_user_id = user_id
        case ToRoom(room_id=rid) | ReplyTo(room_id=rid) | InThread(room_id=rid):
            room_id = rid
    return await Outbox.add(
        session,
        txn_key=message.key,
        seq=seq,
        content=content,
        room_id=room_id,
        dm_user_id=dm_user_id,
        source_event_id=message.source_event_id,
        private=message.private,
        subject=str(message.subject) if message.subject is not None else None,
        preview=preview[:PREVIEW_CHARS] if preview is not None else None,
    )


_SENT_COLUMNS = (
    OutboxMessage.subject,
    OutboxMessage.preview,
    OutboxMessage.content,
    OutboxMessage.txn_id,
    OutboxMessage.sent_event_id,
    OutboxMessage.room_id,
)


async def _sent(session: AsyncSession, where: Any) -> Sent | None:
    found = await _sent_rows(session, where, limit=1)
    return found[0] if found else None


async def _sent_rows(session: AsyncSession, where: Any, *, limit: int | None = None) -> list[Sent]:
    query = select(*_SENT_COLUMNS).where(where).order_by(OutboxMessage.id).limit(limit)
    found = []
    for row in await session.execute(query):
        preview = row.preview
        if preview is None and isinstance(row.content, dict):  # a row from before previews
            preview = str(event_content(row.content).get("body", ""))[:PREVIEW_CHARS]
        found.append(
            Sent(
                subject=Subject.parse(row.subject) if row.subject else None,
                preview=preview or "",
                txn_id=row.txn_id,
                event_id=row.sent_event_id,
                room_id=row.room_id,
            )
        )
    return found
