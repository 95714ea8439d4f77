"""The statements :mod:`bot.storage.sqlite_driver` runs: on aiosqlite's thread, or on
the event loop when they are short (a read under a step budget, a bounded insert).

Each takes the raw ``sqlite3`` connection and returns what the statement leaves behind
(:data:`Outcome`); the driver decides where it runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# What one statement leaves behind: description, rows, rowcount, lastrowid.
Outcome = tuple[Any, list[Any], int, int | None]


def execute(raw: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


# A read run on the event loop is stopped after this many thousand SQLite VM steps (a
# millisecond or less) and sent to the thread instead.
INLINE_STEPS = 20

# A write run on the event loop: one ``INSERT ... VALUES`` of at most this many values
# (a row or a few), never ``INSERT ... SELECT``. Its cost is bounded by the row, not by
# the data, so it needs no budget (a write cannot be stopped halfway: SQLite rolls back
# the whole transaction of an interrupted write).
INLINE_WRITE_VALUES = 64

_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _waits_for_a_lock(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY


@contextmanager
def _no_lock_wait(raw: sqlite3.Connection) -> Iterator[None]:
    """``busy_timeout`` 0 meanwhile: a lock to wait for fails at once (the thread waits)."""
    (busy_ms,) = raw.execute("PRAGMA busy_timeout").fetchone()
    raw.execute("PRAGMA busy_timeout=0")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_ms)}")


def bounded_insert(operation: str, parameters: Any) -> bool:
    """Whether ``operation`` is a one-row-or-few ``INSERT ... VALUES`` (see above)."""
    text = operation.upper()
    if not text.lstrip().startswith("INSERT") or "SELECT" in text or "VALUES" not in text:
        return False
    return parameters is None or len(parameters) <= INLINE_WRITE_VALUES


def inline_read(raw: sqlite3.Connection, operation: str, parameters: Any) -> Outcome | None:
    """A ``SELECT`` run right here if it is short and waits for no lock; None if not.

    Inside a transaction too: an interrupted ``SELECT`` stops alone (only an interrupted
    write rolls its transaction back), and the thread runs it again.
    """
    budget = [INLINE_STEPS]

    def progress() -> bool:
        budget[0] -= 1
        return budget[0] < 0  # True interrupts the statement

    with _no_lock_wait(raw):
        raw.set_progress_handler(progress, 1000)
        try:
            return execute(raw, operation, parameters, False)
        except sqlite3.Error:
            return None  # busy, interrupted or a real error: the thread runs it (and raises)
        finally:
            raw.set_progress_handler(None, 1000)


def inline_write(raw: sqlite3.Connection, operation: str, parameters: Any) -> Outcome | None:
    """A bounded ``INSERT`` run right here unless it must wait for a lock (then None).

    ``sqlite3`` begins the transaction first, as on the thread. A statement that found
    the write lock taken did nothing (SQLite's rule for ``SQLITE_BUSY``): the thread
    runs it again and waits there. Any other error is the statement's own and raised.
    """
    try:
        with _no_lock_wait(raw):
            return execute(raw, operation, parameters, False)
    except sqlite3.OperationalError as error:
        if _waits_for_a_lock(error):
            return None
        raise
