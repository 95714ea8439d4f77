"""Transient database failures lose nothing and never become "something went wrong".

Runs on a private PostgreSQL cluster (initdb under /tmp, a free port) that the tests
stop and start; the machine's PostgreSQL is never touched.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import func, select

from bot.storage import Database
from bot.storage.errors import is_transient
from tests.support.botworld import BotWorld, InProcessBot, open_dm, wait_joined
from tests.support.mxclient import MatrixUser, text_of
from tests.support.pgcluster import PrivatePostgres, postgres_bin
from tests.support.replies import is_reply_from, wait_all_answered

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(postgres_bin() is None, reason="no PostgreSQL binaries to initdb"),
]
WENT_WRONG = "something went wrong"


def bot_settings(world: BotWorld, url: str):  # type: ignore[no-untyped-def]
    return world.settings(
        database={"url": url, "lock_timeout": 1, "statement_timeout": 5},
        bot={"handler_timeout": 20},
    )


def bot_texts(world: BotWorld, *users: MatrixUser) -> list[str]:
    return [text_of(e) for u in users for e in u.events if is_reply_from(world.bot_user_id)(e)]


@pytest.mark.slow
async def test_faults_database_stopped_and_started_mid_burst(
    world: BotWorld, cluster: PrivatePostgres, pg_url: str
) -> None:
    bot = InProcessBot(bot_settings(world, pg_url))
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        alice, bob = await world.user("alice"), await world.user("bob")
        dm = await open_dm(world, bob)
        await alice.drain()
        await bob.drain()
        questions: list[str] = []
        for i in range(12):
            if i == 4:
                await asyncio.to_thread(cluster.stop)  # mid-burst
            if i % 2:
                questions.append(await bob.send(dm, f"!ping dm {i}"))
            else:
                questions.append(await alice.send(world.helpdesk, f"!ping room {i}"))
        await asyncio.sleep(2)  # down for a while, not just a blip
        await asyncio.to_thread(cluster.start)
        counts = await wait_all_answered(alice, world.bot_user_id, questions[0::2], timeout=120)
        counts += await wait_all_answered(bob, world.bot_user_id, questions[1::2], timeout=60)
        assert sorted(counts) == sorted(questions), f"lost: {set(questions) - set(counts)}"
        assert set(counts.values()) == {1}, f"answered twice: {counts}"
        assert not [t for t in bot_texts(world, alice, bob) if WENT_WRONG in t]
    finally:
        await bot.stop()


async def test_faults_database_lock_held_by_another_connection(
    world: BotWorld, pg_url: str
) -> None:
    bot = InProcessBot(bot_settings(world, pg_url), plaintext_dms=True)
    await bot.start()
    locker = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await wait_joined(world, world.helpdesk)
        alice, bob = await world.user("alice"), await world.user("bob")
        dm = await open_dm(world, alice)
        await alice.drain()
        await bob.drain()
        # Another connection (a migration, an operator's psql) holds the tickets table.
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE")
        ticket = await alice.send(dm, "!ticket the printer asks for my password")
        pings = [await bob.send(world.helpdesk, f"!ping while locked {i}") for i in range(3)]
        counts = await wait_all_answered(bob, world.bot_user_id, pings, timeout=30, settle=0)
        assert set(counts) == set(pings), "another room stopped behind the held lock"
        assert await alice.wait_for(is_reply_from(world.bot_user_id, ticket), 1) is None
        await lock.rollback()  # the lock goes away: the ticket is filed, once
        counts = await wait_all_answered(alice, world.bot_user_id, [ticket], timeout=60)
        assert counts[ticket] == 1
        assert not [t for t in bot_texts(world, alice, bob) if WENT_WRONG in t]
        db = Database(pg_url)
        try:
            async with db.sessions() as session:
                from bot.features.tickets.models import Ticket

                assert await session.scalar(select(func.count()).select_from(Ticket)) == 1
        finally:
            await db.close()
    finally:
        await locker.close()
        await bot.stop()


async def test_faults_database_errors_are_classified_by_sqlstate(pg_url: str) -> None:
    """Lock timeout and deadlock are transient; a constraint violation is not."""
    db = Database(pg_url)
    holder = await asyncpg.connect(pg_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        from sqlalchemy import text

        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE kv IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(Exception) as locked:
            async with db.sessions.begin() as session:
                await session.execute(text("SET LOCAL lock_timeout = '200ms'"))
                await session.execute(text("SELECT * FROM kv"))
        await tx.rollback()
        assert is_transient(locked.value), repr(locked.value)
        with pytest.raises(Exception) as bad:
            async with db.sessions.begin() as session:
                await session.execute(text("INSERT INTO kv (key, value) VALUES (NULL, 'x')"))
        assert not is_transient(bad.value), repr(bad.value)
    finally:
        await holder.close()
        await db.close()


async def test_faults_database_sessions_get_the_configured_timeouts(pg_url: str) -> None:
    from sqlalchemy import text

    from bot.storage.engine import SessionTimeouts

    db = Database(pg_url, timeouts=SessionTimeouts(statement=7, lock=2, idle_in_transaction=30))
    try:
        async with db.sessions() as session:
            shown = [
                (await session.execute(text(f"SHOW {name}"))).scalar()
                for name in (
                    "statement_timeout",
                    "lock_timeout",
                    "idle_in_transaction_session_timeout",
                )
            ]
        assert shown == ["7s", "2s", "30s"]
    finally:
        await db.close()
