"""The one backoff helper: capped exponential waits, jitter that only shortens them."""

from __future__ import annotations

import asyncio
import time

from bot.backoff import Backoff, delay_for, pause


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, rng=lambda: 1.0)  # no jitter: the upper bound
    assert [backoff.next() for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_backoff_jitter_stays_between_half_and_the_whole_delay() -> None:
    assert delay_for(3, 1.0, 30.0, rng=lambda: 0.0) == 2.0
    assert delay_for(3, 1.0, 30.0, rng=lambda: 0.5) == 3.0
    waits = [delay_for(10, 1.0, 30.0) for _ in range(200)]
    assert all(15.0 <= w <= 30.0 for w in waits)
    assert len(set(waits)) > 1  # replicas failing together do not retry together


async def test_backoff_pause_ends_early_when_stopping() -> None:
    stopping = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stopping.set)
    started = time.monotonic()
    await pause(30.0, stopping)
    assert time.monotonic() - started < 5.0
