"""Counting the bot's replies to questions, as a person's client sees them."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

from tests.support.mxclient import MatrixUser, reply_to


def is_reply_from(bot_user_id: str, question: str | None = None) -> Callable[[dict], bool]:
    """Predicate: an m.room.message from the bot (in reply to ``question`` if given)."""

    def pred(event: dict) -> bool:
        return (
            event.get("type") == "m.room.message"
            and event.get("sender") == bot_user_id
            and (question is None or reply_to(event) == question)
        )

    return pred


def count_replies(user: MatrixUser, bot_user_id: str, questions: list[str]) -> Counter[str]:
    """How many bot replies each question has among the events ``user`` has seen."""
    wanted = set(questions)
    counts: Counter[str] = Counter()
    seen_ids: set[str] = set()
    for event in user.events:
        if event.get("event_id") in seen_ids:
            continue
        seen_ids.add(event.get("event_id", ""))
        if is_reply_from(bot_user_id)(event) and reply_to(event) in wanted:
            counts[reply_to(event)] += 1
    return counts


async def wait_all_answered(
    user: MatrixUser, bot_user_id: str, questions: list[str], timeout: float, settle: float = 3.0
) -> Counter[str]:
    """Sync until every question has a reply (or timeout), then a little longer for dupes."""
    deadline = time.monotonic() + timeout
    counts = count_replies(user, bot_user_id, questions)
    while len(counts) < len(set(questions)) and time.monotonic() < deadline:
        await user.sync(timeout_ms=1000)
        counts = count_replies(user, bot_user_id, questions)
    await asyncio.sleep(settle)
    await user.sync(timeout_ms=500)
    return count_replies(user, bot_user_id, questions)
