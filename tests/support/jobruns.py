"""Counting the runs of the scheduler's periodic jobs, from the test side.

The bot has no hook for tests: :class:`JobRuns` wraps ``Scheduler.every`` of one app
before it starts, so a test can wait until a named job (``"tips-daily"``) has run.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.scheduler import Scheduler


class JobRuns:
    """How often each periodic job of ``scheduler`` has finished (failed runs count)."""

    def __init__(self, scheduler: Scheduler):
        self.runs: Counter[str] = Counter()
        self._changed = asyncio.Condition()
        every = scheduler.every

        def counted_every(
            interval: timedelta, fn: Callable[[], Awaitable[None]], name: str
        ) -> asyncio.Task[None]:
            async def run() -> None:
                try:
                    await fn()
                finally:
                    async with self._changed:
                        self.runs[name] += 1
                        self._changed.notify_all()

            return every(interval, run, name)

        scheduler.every = counted_every  # type: ignore[method-assign]

    async def wait(self, name: str, count: int) -> None:
        """Until job ``name`` has finished ``count`` more runs."""
        async with self._changed:
            target = self.runs[name] + count
            await self._changed.wait_for(lambda: self.runs[name] >= target)
