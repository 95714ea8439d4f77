"""Bounded, concurrent event handling: one queue per room, the sync token kept honest.

Each sync becomes a *batch*; its events go to per-room queues. Rooms are handled
concurrently (at most ``max_concurrent`` at once), events of one room strictly in order.
The sync token of a batch is saved only once every event of it, and of every batch
before it, is done: a crash or a stop replays the rest (handled marks de-duplicate).

Every event runs under ``handler_timeout``. What it may end in:

* done (answered, or found handled already);
* a transient database error (``bot.storage.errors``): retried with backoff for as
  long as it takes, never marked handled, never "something went wrong";
* a timeout or any other failure: retried up to ``max_attempts`` times, then given up,
  which marks it handled and (for messages) answers the person with an error reference.

So one stuck handler or one held lock stalls only its own room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.backoff import Backoff
from bot.logs import log_unexpected
from bot.storage.errors import is_transient, sqlstate

log = logging.getLogger(__name__)

MAX_RETRY_DELAY = 10.0
MAX_PENDING_EVENTS = 5000  # back-pressure on the sync loop
# A token is saved this long after its batch is done, with whatever later batches finished
# meanwhile: the write is off the path of the reply being sent, and the sync that brings
# back the bot's own reply shares it. A crash in between replays de-duplicated events.
SAVE_DELAY = 0.25


@dataclass
class Job:
    """One event's handling. ``give_up(reason)`` ends it after repeated failures."""

    event_id: str
    run: Callable[[], Awaitable[object]]
    give_up: Callable[[str], Awaitable[object]] | None = None


@dataclass
class Batch:
    """The events of one sync and the token to save once they are all done."""

    token: str | None  # None: the sync failed half-way and is retried; never saved
    remaining: int = 0
    sealed: bool = False

    @property
    def done(self) -> bool:
        return self.sealed and self.remaining == 0


@dataclass
class _Room:
    queue: deque[tuple[Job, Batch]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class Dispatcher:
    """Per-room workers and in-order token saving (see the module docstring)."""

    def __init__(
        self,
        *,
        save_token: Callable[[str], Awaitable[None]],
        handler_timeout: float,
        max_attempts: int,
        max_concurrent: int = 8,
        retry_delay: float = 0.5,
        save_delay: float = SAVE_DELAY,
    ):
        self._save_token = save_token
        self.save_delay = save_delay
        self.handler_timeout = handler_timeout
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self._slots = asyncio.Semaphore(max_concurrent)
        self._rooms: dict[str, _Room] = {}
        self._batches: deque[Batch] = deque()
        self._queued: set[str] = set()  # event ids waiting or running
        self._changed = asyncio.Event()
        self._saver: asyncio.Task[None] | None = None
        self._token_to_save: str | None = None
        self.saved_token: str | None = None

    # -- the sync loop's side -------------------------------------------------------

    def begin(self, token: str) -> Batch:
        """Start the batch of a sync whose ``next_batch`` is ``token``."""
        batch = Batch(token)
        self._batches.append(batch)
        return batch

    def submit(self, batch: Batch, room_id: str, job: Job) -> None:
        """Queue ``job`` behind the room's earlier events (a re-submitted id is skipped)."""
        if job.event_id in self._queued:
            return
        self._queued.add(job.event_id)
        batch.remaining += 1
        room = self._rooms.setdefault(room_id, _Room())
        room.queue.append((job, batch))
        if room.task is None or room.task.done():
            room.task = asyncio.create_task(self._work(room_id, room), name=f"room {room_id}")

    def seal(self, batch: Batch, *, complete: bool = True) -> None:
        """No more events for ``batch``; its token is saved once they are all done.

        ``complete=False``: not every event of the sync was queued (it failed half-way
        and will be fetched again), so its token must never be saved. Its queued events
        still run, and later batches still wait for them.
        """
        if not complete:
            batch.token = None
        batch.sealed = True
        self._advance()

    @property
    def pending(self) -> int:
        """Events queued or running."""
        return len(self._queued)

    async def wait_capacity(self) -> None:
        """Hold the sync loop while too many events wait (memory stays bounded)."""
        while self.pending > MAX_PENDING_EVENTS:
            self._changed.clear()
            await self._changed.wait()

    async def settle(self, seconds: float) -> None:
        """Wait up to ``seconds`` until no event is queued or running."""
        await self._wait_until(lambda: not self.pending, seconds)

    async def drain(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every queued event; True if all were done."""
        return await self._wait_until(lambda: not (self.pending or self._saving), seconds)

    async def _wait_until(self, done: Callable[[], bool], seconds: float) -> bool:
        """Wait up to ``seconds`` for ``done()``, looked at again on every change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not done():
            left = deadline - loop.time()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return True

    async def close(self, seconds: float) -> None:
        """Bounded stop: finish what can be finished in ``seconds``, drop the rest unmarked."""
        finished = await self.drain(seconds)
        if not finished:
            log.warning(
                "stopping with %d event(s) unfinished; they are handled after the restart",
                self.pending,
            )
        tasks = [r.task for r in self._rooms.values() if r.task is not None]
        if self._saver is not None:
            tasks.append(self._saver)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._rooms.clear()

    # -- token saving -----------------------------------------------------------------

    @property
    def _saving(self) -> bool:
        return self._saver is not None and not self._saver.done()

    def _advance(self) -> None:
        while self._batches and self._batches[0].done:
            token = self._batches.popleft().token
            if token is not None:
                self._token_to_save = token
        if self._token_to_save is not None and not self._saving:
            self._saver = asyncio.create_task(self._save(), name="save sync token")
        self._changed.set()

    async def _save(self) -> None:
        backoff = Backoff(self.retry_delay, MAX_RETRY_DELAY)
        await asyncio.sleep(self.save_delay)
        while self._token_to_save is not None:
            token = self._token_to_save
            try:
                await self._save_token(token)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot save the sync token (%s); retrying", type(exc).__name__)
                await backoff.sleep()
                continue
            self.saved_token = token
            if self._token_to_save == token:
                self._token_to_save = None
        self._changed.set()

    # -- the room workers -----------------------------------------------------------

    async def _work(self, room_id: str, room: _Room) -> None:
        while room.queue:
            job, batch = room.queue[0]
            await self._run(room_id, job)
            room.queue.popleft()
            self._queued.discard(job.event_id)
            batch.remaining -= 1
            self._advance()

    async def _run(self, room_id: str, job: Job) -> None:
        failures = 0
        transient = Backoff(self.retry_delay, MAX_RETRY_DELAY)
        while True:
            try:
                # A slot per attempt: a room waiting to retry does not hold one.
                async with self._slots, asyncio.timeout(self.handler_timeout):
                    await job.run()
                return
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # a stop, not our timeout
                reason = "cancelled"
            except TimeoutError:
                reason = f"handler timeout ({self.handler_timeout:g}s)"
            except Exception as exc:
                if is_transient(exc):
                    transient_delay = transient.next()
                    log.warning(
                        "database unavailable for %s in %s (%s%s); retrying in %.1fs",
                        job.event_id,
                        room_id,
                        type(exc).__name__,
                        f" SQLSTATE {sqlstate(exc)}" if sqlstate(exc) else "",
                        transient_delay,
                    )
                    await asyncio.sleep(transient_delay)
                    continue
                log_unexpected(log, exc, "handling %s in %s failed", job.event_id, room_id)
                reason = type(exc).__name__
            failures += 1
            if failures < self.max_attempts:
                log.warning(
                    "event %s in %s failed (%s), attempt %d of %d; retrying",
                    job.event_id,
                    room_id,
                    reason,
                    failures,
                    self.max_attempts,
                )
                await asyncio.sleep(self.retry_delay)
                continue
            if job.give_up is None:
                log.error("dropping event %s in %s after %s", job.event_id, room_id, reason)
                return
            await self._give_up(room_id, job, reason)
            return

    async def _give_up(self, room_id: str, job: Job, reason: str) -> None:
        """Mark the event handled with its error reference; retried while the database is down."""
        assert job.give_up is not None
        backoff = Backoff(self.retry_delay, MAX_RETRY_DELAY)
        while True:
            try:
                async with asyncio.timeout(self.handler_timeout):
                    await job.give_up(reason)
                return
            except TimeoutError:
                pass
            except Exception as exc:
                if not is_transient(exc):
                    log_unexpected(log, exc, "cannot give up on %s in %s", job.event_id, room_id)
                    return
            await backoff.sleep()
