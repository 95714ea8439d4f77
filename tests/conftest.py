"""Shared fixtures: a real Synapse on loopback (and, later, the databases)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.devserver import LocalSynapse
from tests.support.botworld import BotWorld, InProcessBot, make_world, wait_joined
from tests.support.mxclient import MatrixUser, make_user

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
async def running_bot(world: BotWorld) -> AsyncIterator[InProcessBot]:
    """The bot running in-process against ``world``, joined to both rooms."""
    bot = InProcessBot(world.settings())
    await bot.start()
    await wait_joined(world, world.helpdesk)
    yield bot
    await bot.stop()
