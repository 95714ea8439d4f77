"""A new database does not replay history; ``db copy`` moves a deployment whole.

SQLite to the real PostgreSQL: every table copied and counted, and the bot on the copy
neither answers old messages again nor misses new ones. A bot on an empty database
answers only messages newer than ``bot.first_sync_backlog``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from bot.cli import main
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.databases import create_pg_database, drop_pg_database, pg_admin_url
from tests.support.replies import wait_all_answered

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]


def sqlite_counts(url: str) -> dict[str, int]:
    with sqlite3.connect(url.split(":///", 1)[1]) as conn:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if r[0] not in ("alembic_version", "sqlite_sequence")
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


async def test_faults_new_database_copy_and_first_sync_backlog(
    world: BotWorld, postgres_url: str, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = InProcessBot(world.settings())
    await bot.start()
    await wait_joined(world, world.helpdesk)
    alice = await world.user("alice")
    await alice.drain()
    old = [
        await alice.send(world.helpdesk, "!ping before the move"),
        await alice.send(world.helpdesk, "!ticket my badge does not open the door"),
    ]
    assert set((await wait_all_answered(alice, world.bot_user_id, old, 30, 0)).values()) == {1}
    await bot.stop()

    pg = await create_pg_database(pg_admin_url())
    try:
        code = await asyncio.to_thread(main, ["db", "copy", "--from", world.db_url, "--to", pg])
        assert code == 0
        before = sqlite_counts(world.db_url)
        assert all(before[t] for t in ("handled_events", "kv", "outbox", "tickets")), before
        from sqlalchemy import text

        from bot.storage.engine import create_engine

        engine = create_engine(pg)
        async with engine.connect() as conn:
            after = {
                t: (await conn.execute(text(f'SELECT count(*) FROM "{t}"'))).scalar()
                for t in before
            }
        await engine.dispose()
        assert after == before
        # A second copy into the now non-empty target is refused.
        again = await asyncio.to_thread(main, ["db", "copy", "--from", world.db_url, "--to", pg])
        assert again == 1

        moved = InProcessBot(world.settings(database={"url": pg}))
        await moved.start()
        try:
            new = await alice.send(world.helpdesk, "!ping after the move")
            counts = await wait_all_answered(alice, world.bot_user_id, [*old, new], 30)
            assert counts == {q: 1 for q in [*old, new]}, "history replayed or new message lost"
        finally:
            await moved.stop()
    finally:
        await drop_pg_database(pg_admin_url(), pg)

    # An empty database (a restore gone wrong, a new deployment): no replay of history.
    await asyncio.sleep(4)  # every earlier message is now older than the backlog
    caplog.set_level(logging.INFO, logger="bot.matrix.sync")
    empty = world.settings(
        database={"url": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"},
        bot={"first_sync_backlog": "2s"},
    )
    bot = InProcessBot(empty)
    await bot.start()
    try:
        fresh = await alice.send(world.helpdesk, "!ping on a brand-new database")
        counts = await wait_all_answered(alice, world.bot_user_id, [*old, new, fresh], 30)
        assert counts[fresh] == 1
        assert counts == {q: 1 for q in [*old, new, fresh]}, "answered history again"
    finally:
        await bot.stop()
    # Synapse may replay its cached initial sync first: the history then comes later.
    said = [
        r.getMessage() for r in caplog.records if "without a stored sync token" in r.getMessage()
    ]
    skipped = sum(int(m.split("skipped ")[1].split()[0]) for m in said if "skipped" in m)
    assert skipped == 3, said
