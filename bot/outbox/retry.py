"""What a failed send does to its row: wait, retry with backoff, or become a dead letter.

A rate limit waits as long as the server asks; a transient error retries with capped
exponential backoff and jitter; a permanent one, too many attempts or too long makes
the row a dead letter, and the triage room gets one notice naming its destination and
kind (never its text). An expired session holds the whole outbox, the row untouched.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.matrix.content import message_content
from bot.metrics import Metrics
from bot.outbox import store
from bot.outbox.errors import Failure, SendError
from bot.outbox.store import DEAD, PendingSend
from bot.storage import Database

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.config import OutboxSettings

log = logging.getLogger(__name__)


def retry_delay(
    failure: Failure, attempts: int, settings: OutboxSettings, retry_after: float | None
) -> float:
    """Seconds to wait before the next attempt (the server's word for a rate limit)."""
    if failure is Failure.RATE_LIMITED:
        return (retry_after or 5.0) + random.uniform(0, 0.25)
    cap = settings.backoff_max.total_seconds()
    base = settings.backoff_base.total_seconds()
    return min(cap, base * 2 ** max(attempts - 1, 0)) * random.uniform(0.5, 1.0)


class Retries:
    """The failure half of :class:`bot.outbox.Outbox` (its state is set up there)."""

    db: Database
    metrics: Metrics
    settings: OutboxSettings
    now: Callable[[], datetime]
    fence: Callable[[], int | None]
    triage_room: Callable[[], str | None]
    on_auth_error: Callable[[], None] | None
    last_progress: float
    _wake: asyncio.Event

    async def _update(self, row_id: int, **values: Any) -> bool:  # pragma: no cover
        raise NotImplementedError

    def hold(self, reason: str) -> None:  # pragma: no cover - defined by Outbox
        raise NotImplementedError

    def wake(self, *, scan: bool = False) -> None:  # pragma: no cover - defined by Outbox
        raise NotImplementedError

    @staticmethod
    async def add(session: AsyncSession, **kwargs: Any) -> str:  # pragma: no cover
        raise NotImplementedError

    async def _failed(self, item: PendingSend, exc: SendError) -> bool:
        """Record a failed send. True if the destination may go on with its next message."""
        failure = exc.failure
        self.metrics.send_failures.labels(failure.value).inc()
        now = self.now()
        if failure is Failure.AUTH:
            # Not the row's fault: keep it exactly as it was and stop sending everywhere.
            await self._update(item.id, claimed_by=None, claimed_until=None)
            self.hold("session")
            if self.on_auth_error is not None:
                self.on_auth_error()
            return False
        attempts = item.attempts + (0 if failure is Failure.RATE_LIMITED else 1)
        too_old = now - item.created_at >= self.settings.give_up_after
        if failure is Failure.PERMANENT or attempts >= self.settings.max_attempts or too_old:
            await self._dead_letter(item, attempts, exc.reason)
            return True
        delay = retry_delay(failure, attempts, self.settings, exc.retry_after)
        log.warning(
            "send %s to %s failed (%s: %s); retry in %.1fs",
            item.txn_id,
            item.destination,
            failure.value,
            exc.reason,
            delay,
        )
        await self._update(
            item.id,
            attempts=attempts,
            last_error=exc.reason[:255],
            next_attempt_at=now + timedelta(seconds=delay),
            claimed_by=None,
            claimed_until=None,
        )
        return False

    async def _dead_letter(self, item: PendingSend, attempts: int, reason: str) -> None:
        """Set the row aside and tell the triage room once (destination and kind only)."""
        triage = self.triage_room()
        token = self.fence()
        dead = {
            "row_id": item.id,
            "state": DEAD,
            "dead_at": self.now(),
            "attempts": attempts,
            "last_error": reason[:255],
            "claimed_by": None,
            "claimed_until": None,
            **store.fence_params(token),
        }
        async with self.db.sessions.begin() as session:
            result = await session.execute(store.fenced_update(token is not None), dead)
            if result.rowcount != 1:
                return
            if triage is not None and item.kind != "dead_letter":
                text = (
                    f"⚠ A message could not be delivered and was set aside: {item.kind} to "
                    f"{item.destination} (outbox #{item.id}, {attempts} attempt(s), last "
                    f"error: {reason[:120]}). Operators: helpdesk-bot outbox list | retry | drop."
                )
                await self.add(
                    session,
                    txn_key=f"outbox:dead:{item.txn_id}",
                    room_id=triage,
                    content=message_content(text),
                    kind="dead_letter",
                )
        log.error(
            "gave up on %s (%s to %s) after %d attempt(s): %s",
            item.txn_id,
            item.kind,
            item.destination,
            attempts,
            reason,
        )
        self.metrics.dead_letters.inc()
        self.last_progress = time.monotonic()
        self.wake(scan=True)
