"""Shared fixtures: a real Synapse on loopback (and, later, the databases)."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from bot.dev.devserver import LocalSynapse
from bot.storage import Database, migrate
from tests.support.botworld import BotWorld, InProcessBot, make_world, wait_joined
from tests.support.databases import (
    SKIP_REASON,
    create_pg_database,
    drop_pg_database,
    pg_admin_url,
    postgres_required,
    truncate_all,
)
from tests.support.mxclient import MatrixUser, make_user

# --- Debugging a hang: `kill -USR1 <pytest pid>` prints every asyncio task's stack ---


def _dump_tasks(signum: int, frame: object) -> None:
    loop = asyncio.events._get_running_loop()
    if loop is None:
        return
    for task in asyncio.all_tasks(loop):
        task.print_stack(file=sys.stderr)


signal.signal(signal.SIGUSR1, _dump_tasks)


# --- Synapse ---
# One homeserver for the whole session (about 2 s to start); tests stay independent by
# using fresh users and rooms (`matrix_user`), never by restarting it.
_user_seq = itertools.count(1)


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSynapse]:
    """A Synapse with relaxed rate limits, shared by the whole session."""
    hs = LocalSynapse(tmp_path_factory.mktemp("synapse"))
    hs.start()
    yield hs
    hs.stop()


@pytest.fixture
def synapse_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., LocalSynapse]]:
    """Start extra homeservers for one test, e.g. ``synapse_factory(relaxed_rate_limits=False)``.

    Keyword arguments go to `LocalSynapse`; every server started is stopped at teardown.
    """
    started: list[LocalSynapse] = []

    def start(**kwargs: Any) -> LocalSynapse:
        hs = LocalSynapse(tmp_path_factory.mktemp("synapse-extra"), **kwargs)
        started.append(hs)
        hs.start()
        return hs

    yield start
    for hs in started:
        hs.stop()


@pytest.fixture
async def matrix_user(
    synapse: LocalSynapse,
) -> AsyncIterator[Callable[..., Awaitable[MatrixUser]]]:
    """Factory of fresh users: ``alice = await matrix_user("alice")`` -> ``@alice-N:localhost``.

    Pass ``hs=`` to register on another homeserver. Clients are closed at teardown.
    """
    users: list[MatrixUser] = []

    async def new(name: str = "user", *, hs: LocalSynapse | None = None) -> MatrixUser:
        user = await make_user(hs or synapse, f"{name}-{next(_user_seq)}")
        users.append(user)
        return user

    yield new
    for user in users:
        await user.close()


# --- The bot under test ---


@pytest.fixture
async def world(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[BotWorld]:
    """A bot account, a security lead and the two rooms, on the session's Synapse."""
    w = await make_world(synapse, tmp_path / "world")
    yield w
    await w.close()


@pytest.fixture
async def running_bot(
    world: BotWorld, request: pytest.FixtureRequest
) -> AsyncIterator[InProcessBot]:
    """The bot running in-process against ``world``, joined to both rooms.

    Mark a test ``plaintext_dms`` when a plain-HTTP user must read a DM the bot opens.
    """
    plaintext = request.node.get_closest_marker("plaintext_dms") is not None
    bot = InProcessBot(world.settings(), plaintext_dms=plaintext)
    await bot.start()
    await wait_joined(world, world.helpdesk)
    yield bot
    await bot.stop()


# --- Databases ---


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(migrate.upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A `Database` on a migrated, empty SQLite file (for what exists on SQLite only)."""
    path = tmp_path / "helpdesk.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database for the session (skipped if unreachable)."""
    admin = pg_admin_url()
    try:
        url = asyncio.run(create_pg_database(admin))
    except Exception as exc:
        reason = SKIP_REASON.format(url=make_url(admin).render_as_string(hide_password=True))
        if postgres_required():
            pytest.fail(f"{reason} ({type(exc).__name__}: {exc}); HELPDESK_REQUIRE_POSTGRES=1")
        pytest.skip(reason)
    asyncio.run(migrate.upgrade(url))
    yield url
    asyncio.run(drop_pg_database(admin, url))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "helpdesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        yield url
        asyncio.run(truncate_all(url))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    """A `Database` on a migrated, empty database (SQLite and PostgreSQL)."""
    database = Database(db_url)
    yield database
    await database.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly when the PostgreSQL half of the database tests did not run."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any("PostgreSQL not reachable" in str(getattr(r, "longrepr", "")) for r in skipped):
        terminalreporter.write_line(
            "NOTE: PostgreSQL tests were SKIPPED (no PostgreSQL reachable). To run them, start "
            "PostgreSQL and set HELPDESK_TEST_POSTGRES_URL=postgresql+asyncpg://USER@HOST:PORT/"
            "postgres (default tried: postgres@127.0.0.1:5432).",
            yellow=True,
            bold=True,
        )
