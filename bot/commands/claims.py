"""Exactly once: an event is claimed in the transaction that handles it.

Shared by dispatch (messages), :mod:`bot.commands.reactions` and
:mod:`bot.commands.unanswered`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.errors import is_transient
from bot.storage.models import HandledEvent


class AlreadyHandled(Exception):
    """Another process (or an earlier run) already handled this event."""


async def claim(session: AsyncSession, event_id: str, room_id: str, now: datetime) -> None:
    """Record ``event_id`` as handled in this transaction; the unique key is the claim.

    A concurrent replica inserting the same id waits for this transaction and then
    fails, so only one of them ever handles an event.

    Raises:
        AlreadyHandled: the event had been claimed before.
    """
    session.add(HandledEvent(event_id=event_id, room_id=room_id, handled_at=now))
    try:
        await session.flush()
    except IntegrityError:
        raise AlreadyHandled(event_id) from None


def error_reference_text(ref: str) -> str:
    """What a person is told when handling their message failed (never the cause)."""
    return (
        f"Sorry, something went wrong on my side (ref: {ref}). "
        "The security team can look it up with that reference."
    )


def is_database_error(exc: BaseException) -> bool:
    """A transient database failure must propagate (the event is retried), not be answered.

    Permanent database errors (a constraint, a bad value) become an error reference like
    any other defect: retrying would only repeat them.
    """
    return is_transient(exc)
