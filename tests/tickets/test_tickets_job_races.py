"""A person acting between a job's read and its write wins (compare-and-set)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.features.tickets import repository as repo
from bot.features.tickets.jobs import nudge_new_tickets
from bot.storage import Database
from tests.tickets.helpers import ALICE, LEAD, Desk


async def test_tickets_claim_racing_a_nudge_wins(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = Desk(db, nudge_after="4h")
    await desk.say(ALICE, "!ticket help")
    desk.clock.advance(timedelta(hours=5))
    read = repo.tickets_to_nudge

    async def claimed_after_the_read(session, **kw):  # type: ignore[no-untyped-def]
        found = await read(session, **kw)
        await desk.say(LEAD, "!claim T-1", room="triage")  # commits before the job writes
        return found

    monkeypatch.setattr(repo, "tickets_to_nudge", claimed_after_the_read)
    assert await nudge_new_tickets(desk.services) == 0
    assert not [r for r in await desk.queued() if "Reminder" in r.content["body"]]
