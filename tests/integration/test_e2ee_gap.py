"""Encrypted messages sent while the bot is down, more than one sync's worth, or while it
is killed: every one is decrypted (also from /messages back-fill) and answered once."""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.dev.devserver import LocalSynapse
from tests.support.botworld import BotProcess, BotWorld, InProcessBot, wait_joined, wait_ready
from tests.support.e2ee_user import E2EEUser

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_seq = itertools.count(1)


async def _user(synapse: LocalSynapse, tmp_path: Path, name: str) -> E2EEUser:
    local = f"{name}-gap-{next(_seq)}"
    return await E2EEUser.create(synapse, local, tmp_path / f"store-{local}")


async def _answers(user: E2EEUser, bot: str, questions: list[str], timeout: float) -> Counter:
    """Sync until every question has a decrypted bot reply (or timeout); count replies."""
    wanted = set(questions)

    def count() -> Counter:
        counts: Counter = Counter()
        for item in user.received:
            if getattr(item.event, "sender", None) != bot:
                continue
            relates = (item.source.get("content") or {}).get("m.relates_to") or {}
            target = (relates.get("m.in_reply_to") or {}).get("event_id")
            if target in wanted:
                counts[target] += 1
        return counts

    deadline = time.monotonic() + timeout
    while len(count()) < len(wanted) and time.monotonic() < deadline:
        await user.sync(timeout_ms=1000)
    for _ in range(3):  # a little longer, to catch doubles
        await user.sync(timeout_ms=1000)
    return count()


async def test_e2ee_gap_of_more_than_100_encrypted_messages_is_backfilled(
    world: BotWorld, synapse: LocalSynapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.matrix")
    bot = InProcessBot(world.settings())
    await bot.start()
    frank = await _user(synapse, tmp_path, "frank")
    try:
        room_id = await frank.create_encrypted_dm(world.bot_user_id)
        await frank.wait_joined(room_id, world.bot_user_id)
        await bot.stop()
        questions = [await frank.send(room_id, f"!ping gap {i}") for i in range(130)]
        await bot.start()
        counts = await _answers(frank, world.bot_user_id, questions, timeout=120)
        assert len(counts) == len(questions), f"answered {len(counts)} of {len(questions)}"
        assert set(counts.values()) == {1}, {q: n for q, n in counts.items() if n > 1}
        assert not frank.undecrypted(room_id)
        assert re.search(r"filled a gap of [1-9]\d* events in " + re.escape(room_id), caplog.text)
        assert "cannot decrypt" not in caplog.text
    finally:
        await bot.stop()
        await frank.close()


async def test_e2ee_exactly_once_across_sigkill(
    world: BotWorld, synapse: LocalSynapse, tmp_path: Path
) -> None:
    bot = BotProcess(world, world.write_config())
    bot.start()
    grace = await _user(synapse, tmp_path, "grace")
    try:
        await wait_ready(world.web_port)
        await wait_joined(world, world.helpdesk)
        room_id = await grace.create_encrypted_dm(world.bot_user_id)
        await grace.wait_joined(room_id, world.bot_user_id)
        questions: list[str] = []
        for i in range(60):
            questions.append(await grace.send(room_id, f"!ping {i}"))
            if i == 20:
                bot.kill()
        bot.start()
        counts = await _answers(grace, world.bot_user_id, questions, timeout=120)
        missing = [questions.index(q) for q in questions if counts[q] == 0]
        assert not missing, f"never answered: {missing}\n{bot.logs()[-3000:]}"
        assert set(counts.values()) == {1}, {q: n for q, n in counts.items() if n > 1}
        assert "cannot decrypt" not in bot.logs()
    finally:
        bot.kill()
        await grace.close()
