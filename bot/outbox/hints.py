"""The destinations a transaction queued rows to, handed to the sender when it commits.

:meth:`bot.outbox.Outbox.add` notes the row's destination on the session
(:func:`note`); when that session's transaction commits, every live outbox of the same
database is told (:func:`register`), so the sender starts that destination's worker
without scanning every queue's head. Handing over at the commit, never before, is what
makes it safe: a row queued in a transaction that has not committed yet is invisible to
the worker, and a hint taken too early would be spent on an empty queue. A transaction
that rolls back hands over nothing.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.logs import log_unexpected

log = logging.getLogger(__name__)

_KEY = "outbox_queued"


class Receiver(Protocol):
    """An outbox that wants the destinations of committed rows."""

    def committed(self, engine: Any, destinations: Iterable[str]) -> None: ...


_RECEIVERS: weakref.WeakSet[Any] = weakref.WeakSet()


def register(receiver: Receiver) -> None:
    """Tell ``receiver`` (for as long as it lives) the destinations of each commit."""
    _RECEIVERS.add(receiver)


def queued(session: AsyncSession) -> set[str]:
    """The destinations this session's open transaction queued rows to so far."""
    return set(session.info.get(_KEY, ()))


def note(session: AsyncSession, destination: str) -> None:
    """Remember that this session's transaction queued a row to ``destination``."""
    session.info.setdefault(_KEY, set()).add(destination)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    queued = session.info.pop(_KEY, None)
    if not queued:
        return
    bind = session.bind
    engine = getattr(bind, "engine", bind)
    for receiver in list(_RECEIVERS):
        try:
            receiver.committed(engine, queued)
        except Exception as exc:  # the commit has happened: never fail it afterwards
            log_unexpected(log, exc, "outbox hint failed")


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    # A real rollback of the whole transaction: its rows are gone. (A savepoint's
    # rollback keeps the notes; a hint for a row that is not there costs one look.)
    if not session.in_nested_transaction():
        session.info.pop(_KEY, None)
