"""The operators' view of dead letters: ``helpdesk-bot outbox list|retry|drop``.

Never shows a message's text (it may hold ticket or incident details): only where it was
going, what kind it was, how often it was tried and the homeserver's last error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from bot.outbox.store import DEAD, DROPPED, PENDING
from bot.storage import Database
from bot.storage.models import OutboxMessage

DROPPED_CONTENT: dict[str, bool] = {"dropped": True}


@dataclass(frozen=True)
class DeadLetter:
    """One row as an operator sees it."""

    id: int
    state: str
    destination: str
    kind: str
    attempts: int
    last_error: str | None
    created_at: datetime
    dead_at: datetime | None

    def line(self) -> str:
        """One line of ``outbox list``."""
        when = self.dead_at or self.created_at
        return (
            f"#{self.id}\t{self.state}\t{self.kind}\t{self.destination}\t"
            f"{self.attempts} attempt(s)\t{when:%Y-%m-%d %H:%M}Z\t{self.last_error or ''}"
        )


async def list_rows(db: Database, *, states: Sequence[str] = (DEAD,)) -> list[DeadLetter]:
    """Rows in ``states`` (dead letters by default), oldest first."""
    async with db.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.state.in_(states)).order_by(OutboxMessage.id)
        )
        return [
            DeadLetter(
                r.id,
                r.state,
                r.destination or r.room_id or r.dm_user_id or "",
                r.kind,
                r.attempts,
                r.last_error,
                r.created_at,
                r.dead_at,
            )
            for r in rows
        ]


def _targets(ids: Sequence[int] | None) -> list:
    where = [OutboxMessage.state == DEAD]
    if ids is not None:
        where.append(OutboxMessage.id.in_(list(ids)))
    return where


async def retry(db: Database, ids: Sequence[int] | None) -> int:
    """Queue dead letters again (all when ``ids`` is None), as if new. Returns how many."""
    async with db.sessions.begin() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(*_targets(ids))
            .values(
                state=PENDING,
                attempts=0,
                next_attempt_at=None,
                dead_at=None,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return result.rowcount or 0


async def drop(db: Database, ids: Sequence[int] | None) -> int:
    """Never send these dead letters; their text is erased. Returns how many."""
    async with db.sessions.begin() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(*_targets(ids))
            .values(state=DROPPED, content=DROPPED_CONTENT)
        )
        return result.rowcount or 0
