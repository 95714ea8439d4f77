"""One way to wait between retries: capped exponential backoff with jitter.

Every retry loop of the Matrix layer (login, sync, alias lookups, saving the sync token,
a relogin, transient database errors while handling) waits with :class:`Backoff`; the
outbox computes its per-message delay with :func:`delay_for`, the same formula.

The jitter only shortens a wait (``uniform(0.5, 1.0)`` of the exponential delay, "equal
jitter"), so replicas and rooms that failed together do not retry together, and no wait
is ever longer than the cap.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable


def delay_for(
    attempt: int, base: float, cap: float, *, rng: Callable[[], float] = random.random
) -> float:
    """The wait before retry number ``attempt`` (1 for the first retry), in seconds."""
    exponential = min(cap, base * 2 ** max(attempt - 1, 0))
    return exponential * (0.5 + 0.5 * rng())


class Backoff:
    """The waits of one retry loop: ``base``, then doubling up to ``cap``, each jittered.

    Args:
        base: the first wait (before jitter), in seconds.
        cap: the longest wait, in seconds.
        rng: a ``random.random``-like source (tests pass a constant).
    """

    def __init__(
        self, base: float = 1.0, cap: float = 30.0, *, rng: Callable[[], float] = random.random
    ):
        self.base, self.cap, self.rng = base, cap, rng
        self.attempt = 0

    def next(self) -> float:
        """The next wait, in seconds (each call counts one more failure)."""
        self.attempt += 1
        return delay_for(self.attempt, self.base, self.cap, rng=self.rng)

    def reset(self) -> None:
        """A success: the next failure waits ``base`` again."""
        self.attempt = 0

    async def sleep(self, stopping: asyncio.Event | None = None) -> float:
        """Wait the next delay (cut short when ``stopping`` is set); returns the delay."""
        delay = self.next()
        await pause(delay, stopping)
        return delay


async def pause(seconds: float, stopping: asyncio.Event | None = None) -> None:
    """Sleep ``seconds``, or less if ``stopping`` is set meanwhile."""
    if stopping is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        pass
