"""Fault-injection tests: the real Synapse, with a proxy in front where faults are injected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.dev.devserver import LocalSynapse
from tests.faults.proxy import FaultProxy
from tests.support.botworld import BotWorld, make_world


@pytest.fixture
async def proxy(synapse: LocalSynapse) -> AsyncIterator[FaultProxy]:
    p = FaultProxy(synapse.url)
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def fault_world(synapse: LocalSynapse, tmp_path: Path) -> AsyncIterator[BotWorld]:
    world = await make_world(synapse, tmp_path / "world")
    yield world
    await world.close()
