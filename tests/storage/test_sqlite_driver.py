"""The one-hop SQLite driver: the same results, errors and transactions as the stock one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select, text, update

from bot.storage import Database
from bot.storage.errors import is_transient
from bot.storage.models import KeyValue
from bot.storage.sqlite_driver import CountingConnection, OneHopConnection, OneHopDialect


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of every function sent to aiosqlite's thread, in order."""
    sent: list[str] = []
    original = CountingConnection._execute

    async def counted(self: CountingConnection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(CountingConnection, "_execute", counted)
    yield sent


async def test_sqlite_driver_is_chosen_for_aiosqlite_urls(sqlite_db: Database) -> None:
    assert isinstance(sqlite_db.engine.dialect, OneHopDialect)
    assert sqlite_db.engine.dialect.driver == "aiosqlite"
    assert sqlite_db.dialect == "sqlite"


async def test_sqlite_driver_reads_writes_and_counts_rows(sqlite_db: Database) -> None:
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(insert(KeyValue), [{"key": f"k{i}", "value": str(i)} for i in range(5)])
        returned = await conn.execute(
            insert(KeyValue).values(key="r", value="x").returning(KeyValue.key)
        )
        assert returned.scalars().all() == ["r"]
        changed = await conn.execute(
            update(KeyValue).where(KeyValue.key.in_(["k1", "k2"])).values(value="y")
        )
        assert changed.rowcount == 2
        raw = await conn.exec_driver_sql(
            "INSERT INTO kv (key, value, updated_at) VALUES ('raw', 'z', '2026-01-01 00:00:00')"
        )
        assert raw.lastrowid > 0
    async with sqlite_db.sessions() as session:
        rows = (await session.execute(select(KeyValue.key, KeyValue.value))).all()
        expected = [("k0", "0"), ("k1", "y"), ("k2", "y"), ("k3", "3"), ("k4", "4")]
        assert sorted(rows) == [*expected, ("r", "x"), ("raw", "z")]
        missing = await session.execute(select(KeyValue).where(KeyValue.key == "none"))
        assert missing.first() is None


async def test_sqlite_driver_sends_each_statement_in_one_hop(
    sqlite_db: Database, hops: list[str]
) -> None:
    async with sqlite_db.sessions.begin() as session:  # warm the pool: connecting is apart
        await session.get(KeyValue, "warm")
    hops.clear()
    async with sqlite_db.sessions.begin() as session:
        await session.scalar(select(KeyValue.value).where(KeyValue.key == "a"))  # on the loop
        session.add(KeyValue(key="a", value="1"))
        await session.flush()
        assert await session.scalar(select(KeyValue.value).where(KeyValue.key == "a")) == "1"
    assert hops == ["commit"]  # the insert and the read ran on the loop
    hops.clear()
    async with sqlite_db.sessions.begin() as session:  # reads only: nothing to commit
        assert (await session.get(KeyValue, "a")) is not None
    assert hops == []


async def test_sqlite_driver_sends_long_reads_to_the_thread(
    sqlite_db: Database, hops: list[str]
) -> None:
    """A read too long for the event loop is stopped there and run on the thread."""
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(insert(KeyValue), [{"key": f"k{i}", "value": "v"} for i in range(60)])
    hops.clear()
    async with sqlite_db.engine.connect() as conn:
        many = await conn.scalar(text("SELECT count(*) FROM kv a, kv b, kv c"))
        assert many == 60**3
        assert hops == ["_run_statement"]
        assert await conn.scalar(text("SELECT count(*) FROM kv")) == 60
        assert hops == ["_run_statement"]  # a short one stays on the loop
        assert await conn.scalar(text("PRAGMA busy_timeout")) == 10000  # left as it was


async def test_sqlite_driver_commits_and_rolls_back(sqlite_db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with sqlite_db.sessions.begin() as session:
            session.add(KeyValue(key="gone", value="1"))
            await session.flush()
            raise RuntimeError("the handler failed")
    async with sqlite_db.engine.connect() as conn:  # closed with a write pending
        await conn.execute(insert(KeyValue).values(key="unsaved", value="1"))
    async with sqlite_db.sessions.begin() as session:
        session.add(KeyValue(key="kept", value="1"))
    async with sqlite_db.sessions() as session:
        keys = set((await session.scalars(select(KeyValue.key))).all())
    assert keys == {"kept"}


async def test_sqlite_driver_errors_are_classified_as_before(sqlite_db: Database) -> None:
    async with sqlite_db.sessions.begin() as session:
        session.add(KeyValue(key="dup", value="1"))
    with pytest.raises(sa_exc.IntegrityError) as duplicate:
        async with sqlite_db.engine.begin() as conn:
            await conn.execute(insert(KeyValue).values(key="dup", value="2"))
    assert not is_transient(duplicate.value)
    with pytest.raises(sa_exc.OperationalError) as broken:
        async with sqlite_db.engine.connect() as conn:
            await conn.execute(text("SELECT nothing FROM nowhere"))
    assert not is_transient(broken.value)


async def test_sqlite_driver_lock_error_is_transient(sqlite_db: Database) -> None:
    async with sqlite_db.engine.connect() as holder, sqlite_db.engine.connect() as waiter:
        await holder.execute(insert(KeyValue).values(key="lock", value="1"))  # write lock
        await waiter.exec_driver_sql("PRAGMA busy_timeout=0")
        with pytest.raises(sa_exc.OperationalError) as locked:
            await waiter.execute(insert(KeyValue).values(key="other", value="1"))
        assert "database is locked" in str(locked.value)
        assert is_transient(locked.value)
        await waiter.rollback()
        await waiter.exec_driver_sql("PRAGMA busy_timeout=10000")


async def test_sqlite_driver_cancelled_write_leaves_no_transaction(sqlite_db: Database) -> None:
    """A write cancelled while it waits for aiosqlite's thread leaves no row, no lock."""
    release = threading.Event()
    async with sqlite_db.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        busy = asyncio.ensure_future(raw._execute(release.wait))  # the thread is taken
        write = asyncio.create_task(conn.execute(insert(KeyValue).values(key="c", value="1")))
        await asyncio.sleep(0.05)
        write.cancel()
        asyncio.get_running_loop().call_later(0.1, release.set)
        with pytest.raises(asyncio.CancelledError):
            await write
    await busy
    for _ in range(500):  # the INSERT runs after all, then what undoes it
        if raw.sent == raw.finished:
            break
        await asyncio.sleep(0.01)
    assert raw._connection is None or not raw._connection.in_transaction
    async with sqlite_db.sessions() as session:
        assert await session.get(KeyValue, "c") is None


async def test_sqlite_driver_skips_commit_only_when_the_thread_is_quiet(
    sqlite_db: Database,
) -> None:
    """Not in a transaction is read from the event loop: only if nothing is running there."""
    release = threading.Event()
    async with sqlite_db.engine.connect() as conn:
        adapted = (await conn.get_raw_connection()).dbapi_connection
        assert isinstance(adapted, OneHopConnection)
        assert adapted._idle()
        raw = adapted.driver_connection
        busy = asyncio.ensure_future(raw._execute(release.wait))
        await asyncio.sleep(0)
        assert not adapted._idle()  # something may be about to begin a transaction
        release.set()
        await busy
        assert adapted._idle()


async def test_sqlite_driver_reads_beside_a_writer_on_the_loop(
    sqlite_db: Database, hops: list[str]
) -> None:
    """A read while another connection holds the write lock: committed rows, no wait."""
    async with sqlite_db.sessions.begin() as session:
        session.add(KeyValue(key="old", value="1"))
    async with sqlite_db.engine.connect() as writer, sqlite_db.engine.connect() as reader:
        await writer.execute(insert(KeyValue).values(key="pending", value="1"))
        hops.clear()
        keys = (await reader.scalars(select(KeyValue.key))).all()
        assert keys == ["old"]
        assert hops == []
        await writer.rollback()


async def test_sqlite_driver_runs_bounded_inserts_on_the_loop(
    sqlite_db: Database, hops: list[str]
) -> None:
    """A one-row INSERT takes no hop; INSERT ... SELECT and executemany still do."""
    async with sqlite_db.engine.connect():  # warm the pool: connecting is apart
        pass
    hops.clear()
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(insert(KeyValue).values(key="a", value="1"))
        assert hops == []
        await conn.exec_driver_sql(
            "INSERT INTO kv (key, value, updated_at) SELECT key || '2', value, updated_at FROM kv"
        )
        assert hops == ["_run_statement"]
        await conn.execute(insert(KeyValue), [{"key": f"m{i}", "value": "v"} for i in range(3)])
        assert hops == ["_run_statement", "_run_statement"]
        assert await conn.scalar(text("PRAGMA busy_timeout")) == 10000  # left as it was
    assert hops[-1] == "commit"
    async with sqlite_db.sessions() as session:
        keys = set((await session.scalars(select(KeyValue.key))).all())
    assert keys == {"a", "a2", "m0", "m1", "m2"}


async def test_sqlite_driver_insert_waits_for_the_lock_on_the_thread(
    sqlite_db: Database, hops: list[str]
) -> None:
    """An INSERT that finds the write lock taken waits on the thread, never on the loop."""
    async with sqlite_db.engine.connect() as holder, sqlite_db.engine.connect() as waiter:
        await holder.execute(insert(KeyValue).values(key="first", value="1"))  # write lock
        hops.clear()
        second = insert(KeyValue).values(key="second", value="1")
        write = asyncio.create_task(waiter.execute(second))
        ticks = 0
        while not write.done() and ticks < 20:  # the loop keeps running meanwhile
            await asyncio.sleep(0.01)
            ticks += 1
        assert not write.done() and ticks == 20
        assert hops == ["_run_statement"]
        await holder.commit()
        await write
        await waiter.commit()
    async with sqlite_db.sessions() as session:
        keys = set((await session.scalars(select(KeyValue.key))).all())
    assert keys == {"first", "second"}


async def test_sqlite_driver_inline_insert_errors_are_the_statements(
    sqlite_db: Database, hops: list[str]
) -> None:
    """A constraint error on the loop is raised once, as on the thread; the rest stays."""
    async with sqlite_db.sessions.begin() as session:
        session.add(KeyValue(key="dup", value="1"))
    async with sqlite_db.engine.connect() as conn:
        hops.clear()
        await conn.execute(insert(KeyValue).values(key="before", value="1"))
        with pytest.raises(sa_exc.IntegrityError):
            await conn.execute(insert(KeyValue).values(key="dup", value="2"))
        assert hops == []  # not run again on the thread
        await conn.commit()
    async with sqlite_db.sessions() as session:
        rows = dict((await session.execute(select(KeyValue.key, KeyValue.value))).all())
    assert rows == {"dup": "1", "before": "1"}
