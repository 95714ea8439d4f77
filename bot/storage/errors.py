"""What a database error means: retry the work later (transient), or give up (permanent).

A transient error (the database restarting, a deadlock, a lock held too long, a replica
that became read-only after a failover, no free pooled connection) says nothing about
the work itself: the event is retried and never marked handled, and the person is not
told "something went wrong". Anything else is a defect of the work or the data, which
a retry would only repeat.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# SQLSTATE codes that go away by themselves (PostgreSQL, "Appendix A").
TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
        "57014",  # query_canceled (statement_timeout)
        "25006",  # read_only_sql_transaction (a standby after failover)
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up)
        "53300",  # too_many_connections
    }
)
TRANSIENT_CLASSES = ("08",)  # connection exceptions
# SQLite says these in words; every other OperationalError is a real problem.
SQLITE_TRANSIENT = ("database is locked", "database table is locked", "disk i/o error")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a (wrapped) database error, if the driver gave one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str) and code:
            return code
        current = getattr(current, "orig", None) or current.__cause__
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a database (or connection) failure that a retry can outlive."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no free connection
        return True
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    code = sqlstate(exc)
    if code is not None:
        return code in TRANSIENT_SQLSTATES or code.startswith(TRANSIENT_CLASSES)
    if isinstance(exc, sa_exc.InterfaceError):
        return True  # the driver lost its connection
    if isinstance(exc, sa_exc.OperationalError):
        text = str(exc.orig if exc.orig is not None else exc).lower()
        if any(marker in text for marker in SQLITE_TRANSIENT):
            return True
        # asyncpg connection failures carry no SQLSTATE
        return not _is_sqlite(exc)
    return isinstance(exc, ConnectionError | OSError | TimeoutError)


def _is_sqlite(exc: sa_exc.DBAPIError) -> bool:
    return type(exc.orig).__module__.startswith(("sqlite3", "aiosqlite"))
