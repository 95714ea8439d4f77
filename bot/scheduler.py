"""Owned background tasks: every task is tracked, errors are logged, stop cancels all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.logs import log_unexpected

log = logging.getLogger(__name__)


class Scheduler:
    """Keeps a set of its tasks; no fire-and-forget ``create_task`` anywhere else."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        # Periodic jobs run only while this is true (the active replica: bot/leader.py).
        self.allowed: Callable[[], bool] = lambda: True

    def spawn(self, coro: Awaitable[None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` as an owned task; its failure is logged, never lost."""
        if self._stopping:
            raise RuntimeError("scheduler is stopping")
        task = asyncio.ensure_future(self._guard(coro, name))
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def every(
        self, interval: timedelta, fn: Callable[[], Awaitable[None]], name: str
    ) -> asyncio.Task[None]:
        """Call ``fn`` now and then every ``interval``; one failure does not stop the loop."""
        return self.spawn(self._loop(interval, fn, name), name)

    async def _loop(
        self, interval: timedelta, fn: Callable[[], Awaitable[None]], name: str
    ) -> None:
        while True:
            try:
                if self.allowed():
                    await fn()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_unexpected(log, exc, "periodic task %s failed; will retry", name)
            await asyncio.sleep(interval.total_seconds())

    @staticmethod
    async def _guard(coro: Awaitable[None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log_unexpected(log, exc, "background task %s failed", name)

    @property
    def tasks(self) -> frozenset[asyncio.Task[None]]:
        return frozenset(self._tasks)

    async def stop(self) -> None:
        """Cancel every task and wait for them to finish."""
        self._stopping = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
