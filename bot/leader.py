"""One active replica: who may sync, send, post tips and run jobs.

PostgreSQL: every ``helpdesk-bot run`` process tries a session-level advisory lock on a
dedicated connection (outside the pool, so nothing else can release it). The one that
holds it is *active*; the others are *standbys* that try again every second, so one
takes over within a few seconds of the active process dying (its connection closes and
PostgreSQL frees the lock). On taking the lock the new active increments a counter row
(``leader.fence``): its fencing token. Every outbox claim and "sent" mark is conditional
on that token being current, so a replica that lost the role cannot mark anything.

The active one checks its lock connection every ``CHECK_SECONDS``; when the check fails
or times out it stops sending at once (before PostgreSQL, which notices a dead client
later through TCP keepalives, can let another replica take the lock), steps down, and
the app waits as a standby until it can take the lock again (with a new token).

SQLite is single-process: an exclusive lock on a file next to the database refuses a
second process with a clear message.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from bot.storage import Database
from bot.storage.models import ACTIVE_LEASE, LeaderLease

log = logging.getLogger(__name__)

# Any fixed number, distinct from the migrations' lock key (migrations/env.py).
ACTIVE_LOCK_KEY = 0x6864_6163_7469_7665  # "hdactive"
POLL_SECONDS = 1.0
CHECK_SECONDS = 2.0
# PostgreSQL drops a silent client after about idle + interval * count seconds.
KEEPALIVES = {
    "tcp_keepalives_idle": "4",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "3",
}


class AnotherInstance(Exception):
    """A second process on the same SQLite database file."""


class Leader:
    """Elects this process active or standby; exposes the fencing token.

    Args:
        db: the bot's database (the leader row is written through it on SQLite).
        holder: a name for this replica (host and store path), shown in the leader row.
        on_lost: called once, at once, when the role is lost (stop sending there).
    """

    def __init__(self, db: Database, *, holder: str, on_lost: Callable[[], None] | None = None):
        self.db = db
        self.holder = holder
        self.on_lost = on_lost
        self.role = "starting"
        self.token: int | None = None
        self._conn: Any = None  # asyncpg connection holding the advisory lock
        self._lock_file: int | None = None

    @property
    def active(self) -> bool:
        """Whether this replica holds the role right now."""
        return self.role == "active"

    def fence(self) -> int | None:
        """The fencing token while active; -1 (matches nothing) once lost."""
        if self.role == "active":
            return self.token
        return -1 if self.token is not None else None

    async def acquire(self, stopping: asyncio.Event) -> bool:
        """Wait (as a standby) until this replica is active. False if stopped first."""
        if self.db.dialect == "postgresql":
            ok = await self._acquire_postgres(stopping)
        else:
            self.lock_sqlite()
            ok = True
        if ok:
            self.token = await self._bump_fence()
            self.role = "active"
            log.info("this replica is active (fencing token %d)", self.token)
        return ok

    async def _connect(self) -> Any:
        import asyncpg

        url = make_url(self.db.url).set(drivername="postgresql")
        return await asyncpg.connect(
            url.render_as_string(hide_password=False),
            server_settings={**KEEPALIVES, "application_name": "helpdesk-bot leader"},
            timeout=10,
        )

    async def _acquire_postgres(self, stopping: asyncio.Event) -> bool:
        self.role = "standby"
        announced = False
        while not stopping.is_set():
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self._connect()
                got = await asyncio.wait_for(
                    self._conn.fetchval("SELECT pg_try_advisory_lock($1)", ACTIVE_LOCK_KEY),
                    CHECK_SECONDS * 2,
                )
                if got:
                    return True
                if not announced:
                    log.info("another replica is active; this one waits as a standby")
                    announced = True
            except Exception as exc:  # any database failure: try again
                log.warning("leader election: database unreachable (%s)", type(exc).__name__)
                await self._drop_connection()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), POLL_SECONDS)
        return False

    def lock_sqlite(self) -> None:
        """SQLite: take the database file's lock (before migrating it), or refuse.

        Raises:
            AnotherInstance: another process holds it.
        """
        if self.db.dialect != "sqlite" or self._lock_file is not None:
            return
        database = make_url(self.db.url).database
        if not database or database == ":memory:":
            return
        path = Path(database).resolve().with_name(Path(database).name + ".lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AnotherInstance(
                f"another helpdesk-bot process is running on the SQLite database {database} "
                f"(it holds {path}). SQLite allows one process; stop the other one, or use "
                "PostgreSQL to run replicas."
            ) from None
        self._lock_file = fd

    async def _bump_fence(self) -> int:
        async with self.db.sessions.begin() as session:
            row = await session.get(LeaderLease, ACTIVE_LEASE, with_for_update=True)
            now = datetime.now(UTC)
            if row is None:
                lease = LeaderLease(name=ACTIVE_LEASE, fence=1, holder=self.holder, acquired_at=now)
                session.add(lease)
                await session.flush()
                return 1
            await session.execute(
                update(LeaderLease)
                .where(LeaderLease.name == ACTIVE_LEASE)
                .values(fence=LeaderLease.fence + 1, holder=self.holder, acquired_at=now)
            )
            return int(
                await session.scalar(
                    select(LeaderLease.fence).where(LeaderLease.name == ACTIVE_LEASE)
                )
                or 0
            )

    async def watch(self) -> None:
        """While active on PostgreSQL: check the lock connection; step down if it fails."""
        if self._conn is None:
            return
        while self.active:
            await asyncio.sleep(CHECK_SECONDS)
            try:
                await asyncio.wait_for(self._conn.fetchval("SELECT 1"), CHECK_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # whatever broke, the lock may be gone
                self.step_down(f"lost the lock connection ({type(exc).__name__})")
                await self._drop_connection()
                return

    def step_down(self, why: str) -> None:
        """Stop being active, at once; tell the app."""
        if self.role != "active":
            return
        self.role = "lost"
        log.error("no longer the active replica: %s; sending stopped", why)
        if self.on_lost is not None:
            self.on_lost()

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.terminate()
            self._conn = None

    async def close(self) -> None:
        """Release the lock (by closing its connection) or the lock file."""
        if self.role == "active":
            self.role = "stopped"
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.close(), 5)
            await self._drop_connection()
        if self._lock_file is not None:
            os.close(self._lock_file)  # closing the descriptor releases the flock
            self._lock_file = None
