"""Exactly once: an event is claimed in the transaction that handles it.

Shared by dispatch (messages), :mod:`bot.commands.reactions` and
:mod:`bot.commands.unanswered`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.errors import is_transient
from bot.storage.models import HandledEvent

# Core statements built once, run on the session's connection with their parameters:
# an ORM statement built per call cost the event loop about twice the CPU.
_TABLE = HandledEvent.__table__
_MARK = insert(_TABLE)
_HANDLED = select(_TABLE.c.event_id).where(_TABLE.c.event_id == bindparam("event_id"))


class AlreadyHandled(Exception):
    """Another process (or an earlier run) already handled this event."""


async def claim(session: AsyncSession, event_id: str, room_id: str, now: datetime) -> None:
    """Record ``event_id`` as handled in this transaction; the unique key is the claim.

    A concurrent replica inserting the same id waits for this transaction and then
    fails, so only one of them ever handles an event: the loser's whole transaction
    (the handler's changes and its replies) is rolled back.

    Raises:
        AlreadyHandled: the event had been claimed before.
    """
    # The handler's own writes first: their constraint errors are theirs (an error
    # reference), never "handled before" (which would drop the message unanswered).
    await session.flush()
    connection = await session.connection()
    try:
        await connection.execute(
            _MARK, {"event_id": event_id, "room_id": room_id, "handled_at": now}
        )
    except IntegrityError:
        raise AlreadyHandled(event_id) from None


async def check_unclaimed(session: AsyncSession, event_id: str) -> None:
    """Fail early when ``event_id`` is already handled, without writing anything.

    The claim itself is written at the end of the handler's transaction (:func:`claim`):
    on SQLite the first write takes the one write lock of the whole database, so a
    handler waiting on something slow must not hold it while other rooms wait.

    Raises:
        AlreadyHandled: the event had been claimed before.
    """
    connection = await session.connection()
    found = (await connection.execute(_HANDLED, {"event_id": event_id})).first()
    if found is not None:
        raise AlreadyHandled(event_id)


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
