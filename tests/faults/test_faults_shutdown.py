"""Bounded shutdown, against the real Synapse and a real ``helpdesk-bot run`` process.

A handler stuck behind a lock that another PostgreSQL connection holds does not keep the
process alive after SIGTERM beyond ``bot.shutdown_timeout`` (plus the process's own
teardown); the event it was handling is left unmarked, and after a restart it is
answered exactly once.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from tests.support.botworld import BotProcess, BotWorld, open_dm, wait_ready
from tests.support.pgcluster import postgres_bin
from tests.support.replies import wait_all_answered

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(postgres_bin() is None, reason="no PostgreSQL binaries to initdb"),
]
SHUTDOWN_TIMEOUT = 3.0
# Interpreter and HTTP teardown after the bound, on a loaded 2-core machine. The stuck
# statement itself would hold the process for 10 minutes (its lock_timeout).
TEARDOWN_MARGIN = 20.0


# A session waiting for ``tickets`` in a transaction that has already written a handled
# mark: an event's handler (a background job waiting for the same lock has written none).
HANDLER_WAITING = """
SELECT count(*) FROM pg_locks w JOIN pg_locks h ON h.pid = w.pid
WHERE NOT w.granted AND w.relation = 'tickets'::regclass
  AND h.granted AND h.relation = 'handled_events'::regclass
"""


async def wait_handler_blocked(conn: asyncpg.Connection, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await conn.fetchval(HANDLER_WAITING):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("no handler ever waited for the lock on tickets")


async def test_faults_shutdown_a_stuck_handler_is_cut_off_and_answered_once_after_restart(
    world: BotWorld, pg_url: str
) -> None:
    config = world.write_config(
        database={"url": pg_url, "lock_timeout": 600, "statement_timeout": 600},
        bot={"handler_timeout": 600, "shutdown_timeout": SHUTDOWN_TIMEOUT},
    )
    dsn = pg_url.replace("postgresql+asyncpg", "postgresql")
    bot = BotProcess(world, config)
    locker = await asyncpg.connect(dsn)
    lock = locker.transaction()
    try:
        bot.start()
        await wait_ready(world.web_port, timeout=120)
        alice = await world.user("alice")
        dm = await open_dm(world, alice)
        await alice.drain()
        # Another connection (a migration, an operator's psql) holds the tickets table.
        await lock.start()
        await locker.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
        ticket = await alice.send(dm, "!ticket the printer asks for my password")
        await wait_handler_blocked(locker)

        assert bot.proc is not None
        started = time.monotonic()
        code = bot.terminate(timeout=SHUTDOWN_TIMEOUT + TEARDOWN_MARGIN)
        took = time.monotonic() - started
        assert code is not None, f"still running {took:.0f}s after SIGTERM:\n{bot.logs()[-3000:]}"
        assert code == 0, bot.logs()[-3000:]
        assert "unfinished" in bot.logs()  # it said what it left for the restart

        marked = await locker.fetchval(
            "SELECT count(*) FROM handled_events WHERE event_id = $1", ticket
        )
        assert marked == 0, "the unfinished event was marked handled"
        await lock.rollback()  # the lock goes away

        bot.start()
        await wait_ready(world.web_port, timeout=120)
        counts = await wait_all_answered(alice, world.bot_user_id, [ticket], timeout=60)
        assert counts[ticket] == 1, counts
        assert await locker.fetchval("SELECT count(*) FROM tickets") == 1
        assert (
            await locker.fetchval("SELECT count(*) FROM handled_events WHERE event_id = $1", ticket)
            == 1
        )
    finally:
        await locker.close()  # rolls back a lock still held
        bot.terminate()
