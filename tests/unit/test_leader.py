"""One active replica: the PostgreSQL advisory lock with its fencing token; SQLite's lock file."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import text

from bot.leader import AnotherInstance, Leader
from bot.storage import Database


async def test_leader_sqlite_refuses_a_second_process_on_the_same_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bot.storage.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}"
    await upgrade(url)
    first_db, second_db = Database(url), Database(url)
    first = Leader(first_db, holder="one")
    second = Leader(second_db, holder="two")
    try:
        assert await first.acquire(asyncio.Event())
        assert first.role == "active" and first.fence() == 1
        with pytest.raises(AnotherInstance, match="SQLite allows one process"):
            await second.acquire(asyncio.Event())
        await first.close()
        assert await second.acquire(asyncio.Event())  # the file is free again
        assert second.fence() == 2
        assert first.fence() == -1  # a closed leader fences everything out
    finally:
        await first.close()
        await second.close()
        await first_db.close()
        await second_db.close()


@pytest.fixture
def pg_url(postgres_url: str) -> str:
    """The session's migrated PostgreSQL database (the advisory lock is PostgreSQL's)."""
    return postgres_url


@pytest.mark.postgres
async def test_leader_postgres_one_active_standby_takes_over_with_a_new_token(
    pg_url: str,
) -> None:
    dbs = [Database(pg_url) for _ in range(2)]
    lost: list[str] = []
    a = Leader(dbs[0], holder="a", on_lost=lambda: lost.append("a"))
    b = Leader(dbs[1], holder="b", on_lost=lambda: lost.append("b"))
    try:
        assert await a.acquire(asyncio.Event())
        token = a.fence()
        assert a.role == "active" and token is not None

        stop_b = asyncio.Event()
        waiting = asyncio.create_task(b.acquire(stop_b))
        await asyncio.sleep(1.5)
        assert not waiting.done() and b.role == "standby"

        # The active one's lock connection dies (as when its host vanishes).
        watch = asyncio.create_task(a.watch())
        async with dbs[0].engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'helpdesk-bot leader' AND pid <> pg_backend_pid() "
                    "AND datname = current_database() "
                    "AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
                    "AND granted)"
                )
            )
        started = time.monotonic()
        assert await asyncio.wait_for(waiting, 15)
        assert time.monotonic() - started < 15
        await asyncio.wait_for(watch, 10)
        assert lost == ["a"] and a.role == "lost"
        assert a.fence() == -1  # the old active can mark nothing any more
        assert b.role == "active" and b.fence() == token + 1
    finally:
        await a.close()
        await b.close()
        for db in dbs:
            await db.close()
