"""SQLite through aiosqlite with one hop to its thread per statement (a dialect subclass).

aiosqlite runs every call on one worker thread per connection; each ``await`` on it is a
"hop": a queue put, a wake-up of that thread, and a ``call_soon_threadsafe`` back to the
event loop, which then waits its turn behind every other ready callback (and the GIL).
SQLAlchemy's stock adapter (``sqlalchemy/connectors/asyncio.py``) makes four of them
per ``SELECT`` (``cursor()``, ``execute``, ``fetchall``, ``close``) and three per write,
and the pool's reset after a commit makes a fifth: ``rollback`` of a connection that is
not in a transaction any more: a handled check, a claim and the commit were 9 hops
(measured: docs/benchmarks.md, "Third round").

This module changes only how a statement reaches the thread: :class:`OneHopCursor`
sends one function that opens a ``sqlite3`` cursor, executes (or ``executemany``),
fetches every row when there is a result, keeps ``description``, ``rowcount`` and
``lastrowid``, and closes the cursor, all on aiosqlite's thread. ``commit`` and
``rollback`` skip the hop when the connection is not in a transaction (``sqlite3``'s own
``commit``/``rollback`` do nothing then; ``in_transaction`` only reads SQLite's
autocommit flag, and is read only while nothing of this connection's runs on its
thread: :class:`CountingConnection`). The same three statements and commit are now 3
hops.

Some statements take no hop at all: run on the event loop
(:mod:`bot.storage.sqlite_statements`), where a hop's wait for the OS to schedule two
threads (and for the GIL, while the loop is busy) costs more than the statement. Only
while the thread runs nothing of this connection's, and only two kinds, both with
``busy_timeout`` 0 meanwhile (a lock to wait for: the thread waits instead):

- a ``SELECT``, in a transaction or not, under a progress handler that stops it after
  about 20,000 SQLite VM steps; a read that is stopped, busy or fails is run again on
  the thread (which raises the error, if any);
- a bounded write: one ``INSERT ... VALUES`` of a few values, never ``INSERT ...
  SELECT`` (a write cannot be stopped halfway: SQLite rolls back the whole transaction
  of an interrupted write, so its cost must be bounded by its shape). One that finds the
  write lock taken did nothing (SQLite's rule for ``SQLITE_BUSY``) and is run again on
  the thread, which waits; any other error is the statement's own and raised.

A handled check, the claim and the reply row, then the commit: one hop (the commit,
with its fsync). Everything else is
SQLAlchemy's aiosqlite dialect unchanged: the SQL, the implicit ``BEGIN`` that
``sqlite3`` issues before a write, the pool and its reset
on return, server-side cursors (the stock class), and the errors: ``sqlite3``'s own
exceptions, raised from the same place, so ``IntegrityError`` and "database is locked"
are wrapped and classified (:mod:`bot.storage.errors`) as before.

Why an adapter rather than another library: no maintained SQLAlchemy dialect for
SQLite does this (aiosqlite-based ones all go through the stock adapter; the other
async SQLite wrappers on PyPI have no SQLAlchemy dialect, and the ORM, Alembic and the
PostgreSQL path need one). A sync engine in a thread would mean a second way of
writing every repository function.

Selected by :func:`bot.storage.engine.create_engine` for ``sqlite+aiosqlite`` URLs
(registered as ``sqlite.aiosqlite_onehop``), so configurations keep their URLs.
"""

from __future__ import annotations

import collections
import sqlite3
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

from bot.storage.sqlite_statements import (
    Outcome,
    bounded_insert,
    execute,
    inline_read,
    inline_write,
)

DRIVER_NAME = "aiosqlite_onehop"


def _run_statement(
    connection: aiosqlite.Connection, operation: str, parameters: Any, many: bool
) -> Outcome:
    """One statement, whole, on aiosqlite's thread."""
    return execute(connection._conn, operation, parameters, many)  # raises if closed


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose ``execute`` is one call on aiosqlite's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection):
        # No call to the base: it would open a sqlite3 cursor (a hop) right away.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed in the statement's hop."""

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._run(operation, parameters, many=False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._run(operation, seq_of_parameters, many=True)

    def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        try:
            outcome = await_(self._run_async(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _run_async(self, operation: Any, parameters: Any, many: bool) -> Outcome:
        if not many:
            outcome = self._adapt_connection._inline(operation, parameters)  # type: ignore[attr-defined]
            if outcome is not None:
                return outcome  # type: ignore[no-any-return]
        async with self._adapt_connection._execute_mutex:
            return await self._connection._execute(  # type: ignore[no-any-return]
                _run_statement, self._connection, operation, parameters, many
            )

    def nextset(self) -> None:
        return None  # sqlite3 has one result set per statement

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None  # a no-op in sqlite3 too


class CountingConnection(aiosqlite.Connection):
    """aiosqlite's connection, counting the calls sent to its thread and finished there.

    ``sent == finished`` means its thread is not running anything of this connection's,
    so reading ``in_transaction`` from the event loop tells the truth: a statement
    whose awaiting task was cancelled may still be running there (and about to begin
    a transaction).
    """

    def __init__(self, connector: Any, iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self.sent = 0  # written on the event loop only
        self.finished = 0  # written on aiosqlite's thread only

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")  # as aiosqlite's, before counting
        self.sent += 1
        return await super()._execute(self._counted, partial(fn, *args, **kwargs))

    def _counted(self, function: Any) -> Any:
        try:
            return function()
        finally:
            self.finished += 1


def _connect(database: str, *, iter_chunk_size: int = 64, **kwargs: Any) -> CountingConnection:
    """``aiosqlite.connect`` with a :class:`CountingConnection`."""
    return CountingConnection(partial(sqlite3.connect, database, **kwargs), iter_chunk_size)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's adapted connection with one-hop statements and free idle ends."""

    __slots__ = ()
    _cursor_cls = OneHopCursor

    def _quiet(self) -> sqlite3.Connection | None:
        """The raw connection if it is open and nothing of it runs on its thread."""
        conn = self._connection
        raw: sqlite3.Connection | None = conn._connection
        if raw is None or not isinstance(conn, CountingConnection) or conn.sent != conn.finished:
            return None
        return raw

    def _idle(self) -> bool:
        """Whether the connection is open, quiet and in no transaction (no hop)."""
        raw = self._quiet()
        return raw is not None and not raw.in_transaction

    def _inline(self, operation: str, parameters: Any) -> Outcome | None:
        """A short read or a bounded insert on the event loop, no hop (else None).

        Only while the thread runs nothing of this connection's: the statements of a
        connection stay in order, and ``sqlite3`` is used by one thread at a time.
        """
        raw = self._quiet()
        if raw is None:
            return None
        head = operation.lstrip()[:6].upper()
        if head == "SELECT":
            return inline_read(raw, operation, parameters)
        if head == "INSERT" and bounded_insert(operation, parameters):
            return inline_write(raw, operation, parameters)
        return None

    def commit(self) -> None:
        if not self._idle():
            super().commit()

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()


async def has_written(session: AsyncSession) -> bool:
    """Whether ``session``'s transaction has written anything yet; True when not known.

    ``sqlite3`` begins a transaction at the first write only (reads begin none), so on
    this driver a connection still outside a transaction has written nothing. Any other
    driver, or a statement still running on the thread: True.
    """
    connection = await session.connection()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    if not isinstance(adapted, OneHopConnection):
        return True
    raw = adapted._quiet()
    return raw is None or raw.in_transaction


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The stock DBAPI shim, handing out :class:`OneHopConnection`."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        creator_fn = kw.pop("async_creator_fn", None)
        if creator_fn:
            connection = creator_fn(*arg, **kw)
        else:
            connection = _connect(*arg, **kw)
            # as in SQLAlchemy: a thread left running must not keep the process alive
            connection._thread.daemon = True
        return OneHopConnection(self, await_(connection))


class OneHopDialect(SQLiteDialect_aiosqlite):
    """``SQLiteDialect_aiosqlite`` with :class:`OneHopConnection` connections."""

    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:  # type: ignore[override]
        return OneHopDBAPI(aiosqlite, sqlite3)


registry.register(f"sqlite.{DRIVER_NAME}", __name__, "OneHopDialect")
