"""Engine and session factory, created by a factory and closed explicitly (never at import)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

if TYPE_CHECKING:
    from bot.config import CoreSettings

from bot.paths import private_sqlite
from bot.storage import sqlite_driver

log = logging.getLogger(__name__)


def _sqlite_pragmas(  # type: ignore[no-untyped-def]
    dbapi_connection, _record, synchronous: str = "FULL"
) -> None:
    cursor = dbapi_connection.cursor()
    # WAL keeps readers and the writer apart; FULL sync because losing a committed
    # "handled" mark after a power cut would mean answering a message twice.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Erased text (retention, private outbox rows, forget me) is overwritten in the file,
    # not left in free pages for anyone who reads the raw database.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_relaxed_pragmas(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
    _sqlite_pragmas(dbapi_connection, record, synchronous="NORMAL")


def create_engine(
    url: str,
    *,
    echo: bool = False,
    timeouts: SessionTimeouts | None = None,
    relaxed: bool = False,
) -> AsyncEngine:
    """Create an async engine for a ``sqlite+aiosqlite`` or ``postgresql+asyncpg`` URL.

    For SQLite the parent directory of the file is created, pragmas for durability are
    set on every connection, and ``sqlite+aiosqlite`` runs on
    :mod:`bot.storage.sqlite_driver` (one hop to aiosqlite's thread per statement).
    Statement parameters are never put into exception text or the ``echo`` log: they
    carry ticket and incident text, and a failed statement's error is logged. On
    PostgreSQL every session gets the ``timeouts``, so a held lock or a stuck
    transaction ends in an error the caller retries, never in a hang.
    ``relaxed`` (SQLite): ``synchronous=NORMAL``, see :attr:`Database.relaxed_sessions`.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            private_sqlite(parsed.database)
        if parsed.drivername == "sqlite+aiosqlite":
            parsed = parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER_NAME}")
        engine = create_async_engine(parsed, echo=echo, hide_parameters=True)
        pragmas = _sqlite_relaxed_pragmas if relaxed else _sqlite_pragmas
        event.listen(engine.sync_engine, "connect", pragmas)
        return engine
    timeouts = timeouts or SessionTimeouts()
    return create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        pool_timeout=timeouts.pool,
        connect_args={"server_settings": timeouts.server_settings()},
    )


@dataclass(frozen=True)
class SessionTimeouts:
    """PostgreSQL session timeouts in seconds (0 turns one off) and the pool's wait."""

    statement: float = 30.0
    lock: float = 10.0
    idle_in_transaction: float = 60.0
    pool: float = 30.0

    def server_settings(self) -> dict[str, str]:
        """The ``SET`` values asyncpg sends when it opens a connection (milliseconds)."""
        return {
            "statement_timeout": str(int(self.statement * 1000)),
            "lock_timeout": str(int(self.lock * 1000)),
            "idle_in_transaction_session_timeout": str(int(self.idle_in_transaction * 1000)),
        }


def session_timeouts(settings: CoreSettings) -> SessionTimeouts:
    """The ``database:`` timeouts of the configuration."""
    d = settings.database
    return SessionTimeouts(
        statement=d.statement_timeout,
        lock=d.lock_timeout,
        idle_in_transaction=d.idle_in_transaction_session_timeout,
        pool=d.pool_timeout,
    )


class Database:
    """The engine and its session factory, with explicit start and stop."""

    def __init__(self, url: str, *, echo: bool = False, timeouts: SessionTimeouts | None = None):
        self.url = url
        self.engine = create_engine(url, echo=echo, timeouts=timeouts)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        self._relaxed_engine: AsyncEngine | None = None
        self._relaxed: async_sessionmaker[AsyncSession] | None = None

    @property
    def relaxed_sessions(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for bookkeeping whose loss at a power cut is harmless.

        For writes that, if lost, only make the bot redo something that is de-duplicated
        anyway: the stored sync token (a replay meets the handled marks), the outbox's
        lease and "sent" mark (a resend from the same device carries the same transaction
        id, which the homeserver de-duplicates: the case of a crash between sending and
        marking). Never for handled marks, replies, tickets or anything a person sees.

        SQLite: a second engine on the same file with ``synchronous=NORMAL``. In WAL mode
        such a commit is atomic and survives a crash of the process; only a power cut or
        an OS crash may lose it (with every later commit: the log is replayed in order),
        and the file is never corrupted. It saves one fsync per commit. PostgreSQL: the
        same sessions as :attr:`sessions` (there another replica, on another device,
        relies on a lease being durable).
        """
        if self.dialect != "sqlite" or "memory" in self.url:
            return self.sessions
        if self._relaxed is None:
            self._relaxed_engine = create_engine(self.url, relaxed=True)
            self._relaxed = async_sessionmaker(self._relaxed_engine, expire_on_commit=False)
        return self._relaxed

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    async def ping(self) -> bool:
        """Whether the database answers a trivial query right now."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("database ping failed: %s", type(exc).__name__)
            return False

    async def close(self) -> None:
        """Dispose of every pooled connection."""
        await self.engine.dispose()
        if self._relaxed_engine is not None:
            await self._relaxed_engine.dispose()
