"""The dispatcher: rooms concurrent, order within a room, honest sync tokens, bounded work."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import OperationalError

from bot.matrix.dispatch import Dispatcher, Job


class Deadlock(Exception):
    sqlstate = "40P01"


def deadlock() -> OperationalError:
    return OperationalError("UPDATE ...", {}, Deadlock("deadlock detected"))


def make(saved: list[str], **kwargs: float) -> Dispatcher:
    async def save(token: str) -> None:
        saved.append(token)

    options = {
        "handler_timeout": 5.0,
        "max_attempts": 3,
        "retry_delay": 0.01,
        "save_delay": 0.0,
        **kwargs,
    }
    return Dispatcher(save_token=save, **options)  # type: ignore[arg-type]


async def test_dispatch_rooms_run_concurrently_in_order_and_tokens_wait() -> None:
    saved: list[str] = []
    d = make(saved)
    release = asyncio.Event()
    done: list[str] = []

    def job(name: str, gate: asyncio.Event | None = None) -> Job:
        async def run() -> None:
            if gate is not None:
                await gate.wait()
            done.append(name)

        return Job(name, run)

    first = d.begin("t1")
    d.submit(first, "!a", job("a1", release))
    d.submit(first, "!b", job("b1"))
    d.seal(first)
    second = d.begin("t2")
    d.submit(second, "!a", job("a2"))
    d.submit(second, "!b", job("b2"))
    d.submit(second, "!b", job("b2"))  # a re-submitted event is not queued twice
    d.seal(second)
    await asyncio.sleep(0.05)
    assert done == ["b1", "b2"]  # room b is not held up by room a
    assert saved == []  # nor is any token saved past a1
    release.set()
    assert await d.drain(5)
    assert done == ["b1", "b2", "a1", "a2"]
    assert saved[-1] == "t2"


async def test_dispatch_timeouts_are_retried_then_given_up_once() -> None:
    saved: list[str] = []
    d = make(saved, handler_timeout=0.05, max_attempts=2)
    runs: list[int] = []
    gave_up: list[str] = []

    async def hang() -> None:
        runs.append(1)
        await asyncio.sleep(3600)

    async def give_up(reason: str) -> None:
        gave_up.append(reason)

    batch = d.begin("t1")
    d.submit(batch, "!a", Job("$e", hang, give_up))
    d.seal(batch)
    assert await d.drain(5)
    assert len(runs) == 2 and len(gave_up) == 1 and "timeout" in gave_up[0]
    assert saved == ["t1"]


async def test_dispatch_transient_database_errors_retry_without_giving_up() -> None:
    saved: list[str] = []
    d = make(saved, max_attempts=1)
    failures = [deadlock(), deadlock(), deadlock()]
    gave_up: list[str] = []

    async def run() -> None:
        if failures:
            raise failures.pop()

    async def give_up(reason: str) -> None:
        gave_up.append(reason)

    batch = d.begin("t1")
    d.submit(batch, "!a", Job("$e", run, give_up))
    d.seal(batch)
    assert await d.drain(5)
    assert failures == [] and gave_up == [] and saved == ["t1"]


async def test_dispatch_close_is_bounded_and_leaves_unfinished_events_unsaved() -> None:
    saved: list[str] = []
    d = make(saved)

    async def hang() -> None:
        await asyncio.sleep(3600)

    batch = d.begin("t1")
    d.submit(batch, "!a", Job("$e", hang))
    d.seal(batch)
    await asyncio.wait_for(d.close(0.1), 2)
    assert saved == []


async def test_dispatch_a_sync_that_failed_half_way_never_saves_its_token() -> None:
    saved: list[str] = []
    d = make(saved)

    async def ok() -> None:
        return None

    failed = d.begin("t-failed")
    d.submit(failed, "!a", Job("$1", ok))
    d.seal(failed, complete=False)  # the rest of that sync was never queued
    retried = d.begin("t-retried")
    d.submit(retried, "!a", Job("$1", ok))
    d.submit(retried, "!a", Job("$2", ok))
    d.seal(retried)
    assert await d.drain(5)
    assert "t-failed" not in saved and saved[-1] == "t-retried"


async def test_dispatch_saves_the_latest_token_once_after_a_short_delay() -> None:
    """Batches done within the delay share one save, of the latest token."""
    saved: list[str] = []
    d = make(saved, save_delay=0.2)
    for token in ("t1", "t2", "t3"):
        batch = d.begin(token)
        d.submit(batch, "!a", Job(f"${token}", _nothing))
        d.seal(batch)
        await asyncio.sleep(0.02)
    assert saved == []
    assert await d.drain(5)
    assert saved == ["t3"]


async def _nothing() -> None:
    return None


async def test_dispatch_settle_waits_for_the_handlers_but_not_past_its_bound() -> None:
    d = make([])
    release = asyncio.Event()
    done: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0.02)
        done.append("quick")

    async def stuck() -> None:
        await release.wait()

    batch = d.begin("t1")
    d.submit(batch, "!a", Job("quick", quick))
    d.seal(batch)
    await d.settle(5)
    assert done == ["quick"]  # returned once the handler was done, well before 5 s
    batch = d.begin("t2")
    d.submit(batch, "!a", Job("stuck", stuck))
    d.seal(batch)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await d.settle(0.05)
    assert d.pending == 1 and loop.time() - started >= 0.05  # gave up waiting, job runs on
    release.set()
    assert await d.drain(5)
