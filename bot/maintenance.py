"""Housekeeping of the foundation's own tables, run daily by the scheduler.

Handled-event marks are only needed while an event can still be replayed: older ones are
deleted (the sync loop also ignores events older than the retention window, so a lost
sync token can never make the bot answer them again). Sent outbox rows keep their ids,
which features use to link replies to the bot's messages, but their content — which may
hold ticket or incident text — is emptied after the same window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from bot.storage import Database
from bot.storage.models import HandledEvent, OutboxMessage

log = logging.getLogger(__name__)

PRUNED_CONTENT: dict[str, bool] = {"pruned": True}


@dataclass(frozen=True)
class PruneResult:
    handled_deleted: int
    outbox_emptied: int


async def prune(db: Database, *, now: datetime, retention: timedelta) -> PruneResult:
    """Delete handled marks and empty sent outbox rows older than ``retention``."""
    cutoff = now - retention
    async with db.sessions.begin() as session:
        handled = await session.execute(
            delete(HandledEvent).where(HandledEvent.handled_at < cutoff)
        )
        emptied = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at < cutoff, OutboxMessage.created_at < cutoff)
            .values(content=PRUNED_CONTENT)
            .execution_options(synchronize_session=False)
        )
    result = PruneResult(handled.rowcount or 0, emptied.rowcount or 0)
    if result.handled_deleted or result.outbox_emptied:
        log.info(
            "pruned %d handled marks, emptied %d sent messages older than %s",
            result.handled_deleted,
            result.outbox_emptied,
            cutoff.date(),
        )
    return result
