"""Every message that reached the homeserver is answered exactly once, whatever happens."""

from __future__ import annotations

import sqlite3

import pytest

from tests.support.botworld import BotProcess, BotWorld, wait_joined, wait_ready
from tests.support.replies import wait_all_answered


def diagnose(world: BotWorld, event_ids: list[str]) -> str:
    """What the bot's database knows about ``event_ids`` (for failure messages)."""
    path = world.db_url.split(":///", 1)[1]
    with sqlite3.connect(path) as conn:
        marks = "(" + ",".join("?" * len(event_ids)) + ")"
        handled = conn.execute(
            f"SELECT count(*) FROM handled_events WHERE event_id IN {marks}", event_ids
        ).fetchone()[0]
        queued, sent = conn.execute(
            f"SELECT count(*), count(sent_at) FROM outbox WHERE source_event_id IN {marks}",
            event_ids,
        ).fetchone()
    return f"handled={handled} queued={queued} sent={sent}"


pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_bot_exactly_once_across_sigkill_mid_burst(world: BotWorld) -> None:
    bot = BotProcess(world, world.write_config())
    bot.start()
    try:
        await wait_ready(world.web_port)
        await wait_joined(world, world.helpdesk)
        alice, bob = await world.user("alice"), await world.user("bob")
        await alice.drain()  # from here on alice's client sees every event (gaps filled)
        questions: list[str] = []
        total = 200
        for i in range(total):
            sender = alice if i % 2 == 0 else bob
            questions.append(await sender.send(world.helpdesk, f"!ping {i}"))
            if i == total // 3:
                bot.kill()  # SIGKILL: no chance to flush anything
        bot.start()
        counts = await wait_all_answered(alice, world.bot_user_id, questions, timeout=180)
        missing = [q for q in questions if counts[q] == 0]
        doubled = {q: n for q, n in counts.items() if n > 1}
        assert not missing, (
            f"{len(missing)} of {total} never answered; indexes "
            f"{[questions.index(q) for q in missing]}; "
            f"{diagnose(world, missing)}\n{bot.logs()[-3000:]}"
        )
        assert not doubled, f"answered more than once: {doubled}"
    finally:
        bot.kill()


async def test_bot_answers_a_gap_of_more_than_100_messages_while_down(world: BotWorld) -> None:
    bot = BotProcess(world, world.write_config())
    bot.start()
    try:
        await wait_ready(world.web_port)
        await wait_joined(world, world.helpdesk)
        alice = await world.user("alice")
        await alice.drain()
        assert bot.terminate() == 0
        questions = [await alice.send(world.helpdesk, f"!ping gap {i}") for i in range(150)]
        bot.start()
        counts = await wait_all_answered(alice, world.bot_user_id, questions, timeout=180)
        assert len(counts) == 150, f"answered {len(counts)} of 150\n{bot.logs()[-3000:]}"
        assert set(counts.values()) == {1}
        assert "filled a gap" in bot.logs()
    finally:
        bot.kill()
