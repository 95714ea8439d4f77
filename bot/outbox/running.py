"""The owned sender task: a worker per destination that has something to send.

A reply names its destination: :meth:`bot.outbox.Outbox.add` notes it on the session and,
when that transaction commits, :mod:`bot.outbox.hints` hands it to the sender, so one
queued reply starts its destination's worker without scanning every queue (and a row is
never looked for before its transaction is visible).
The heads of all queues are scanned at start, on ``wake(scan=True)`` (a release, a dead
letter, a hold lifted), after a worker had to stop
(a failure, a rate limit, a hold), when more destinations were due than workers were
free, and when a retry time or the 30-second tick comes round (rows queued by another
process).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

from bot.logs import log_unexpected
from bot.outbox.delivery import GAUGE_SECONDS
from bot.outbox.early import Early
from bot.outbox.errors import Transport

log = logging.getLogger(__name__)

TICK_SECONDS = 30.0  # a scan at least this often (rows queued by another process)


class Running(Early):
    """:meth:`run`, the sender task of :class:`bot.outbox.Outbox`."""

    _hinted: set[str]  # destinations with a new committed row (bot.outbox.hints)
    _rescan: bool  # wake(scan=True): scan every queue's head

    async def run(self, transport: Transport) -> None:
        """The sender (an owned task): one worker per due destination, at most
        ``outbox.concurrency`` at once; woken by new rows, finished workers and retry times.
        """
        workers: dict[str, asyncio.Task[bool]] = {}
        self._transport = transport  # for replies sent while they commit (early.py)
        gauges = asyncio.create_task(self._gauges_every(GAUGE_SECONDS), name="outbox:gauges")
        scan, deferred, later = True, False, None
        try:
            while True:
                self._wake.clear()
                try:
                    if not self._holds:
                        due: list[str] = []
                        if scan or self._rescan:
                            scan = self._rescan = False
                            due, later = await self._due()
                        deferred = self._start(transport, workers, due)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log_unexpected(log, exc, "outbox scan failed")
                    scan, later = True, self.now() + timedelta(seconds=2)
                if not await self._wait(workers, later):
                    scan, later = True, None  # a retry time, or the tick
                finished, stopped = self._reap(workers)
                scan = scan or stopped or (finished and deferred)
        finally:
            self._transport = None
            await self._cancel_early()
            gauges.cancel()
            for task in workers.values():
                task.cancel()
            await asyncio.gather(gauges, *workers.values(), return_exceptions=True)

    def _start(
        self, transport: Transport, workers: dict[str, asyncio.Task[bool]], due: list[str]
    ) -> bool:
        """Start workers for ``due`` and the handed-over destinations.

        Returns:
            True if some must wait for a free worker.
        """
        for destination in list(self._hinted):
            if destination not in workers and destination not in self._busy:
                self._hinted.discard(destination)  # a busy one is looked at when it is free
                if destination not in due:
                    due.append(destination)
        waiting = [d for d in due if d not in workers]
        free = self.settings.concurrency - len(workers)
        for destination in waiting[:free]:
            workers[destination] = asyncio.create_task(
                self._drain(transport, destination), name=f"outbox:{destination}"
            )
        if not due and not workers:
            self.last_progress = time.monotonic()
            self.idle.set()
        else:
            self.idle.clear()
        return len(waiting) > free

    async def _wait(self, workers: dict[str, asyncio.Task[bool]], later: datetime | None) -> bool:
        """Until woken, a worker finishes or ``later``/the tick; False on the timeout."""
        timeout = TICK_SECONDS
        if later is not None:
            timeout = min(timeout, max((later - self.now()).total_seconds(), 0.05))
        waker = asyncio.ensure_future(self._wake.wait())
        done, _ = await asyncio.wait(
            {waker, *workers.values()}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        waker.cancel()
        return bool(done)

    @staticmethod
    def _reap(workers: dict[str, asyncio.Task[bool]]) -> tuple[bool, bool]:
        """Forget finished workers: (some finished, some had to stop before their queue
        was empty: a failure to retry later, a hold, a bug)."""
        finished = stopped = False
        for destination, task in list(workers.items()):
            if not task.done():
                continue
            del workers[destination]
            finished = True
            if task.cancelled():
                stopped = True
            elif (error := task.exception()) is not None:
                stopped = True
                log_unexpected(log, error, "outbox worker failed")
            elif not task.result():
                stopped = True
        return finished, stopped
