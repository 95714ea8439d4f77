"""Closing the loop against a real Synapse: the phishing report pages at once, the
reporters hear back (merged ones too), the export verifies; a low incident nobody
acknowledges is re-raised and escalated until ``!ack``; a GDPR clock reminds at 90 %."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.clock import ManualClock
from bot.features.incidents.models import Incident
from tests.incidents.test_incidents_synapse import ask, expect, open_dm, said, start_bot
from tests.support.botworld import BotWorld
from tests.support.mxclient import text_of

pytestmark = pytest.mark.integration

PHISHED = "!incident phishing entered my password on a fake login page at paypa1.example"


async def test_incidents_phishing_pages_at_once_and_reporters_hear_back(
    world: BotWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, bob, oncall = [await world.user(n) for n in ("alice", "bob", "oncall")]
    bot = await start_bot(world, team=[oncall.user_id])
    try:
        dm = await open_dm(alice, world)
        reply = await ask(alice, world, dm, PHISHED, "INC-1")
        assert oncall.user_id in text_of(reply)
        # The shipped playbooks raise it on "entered my password": the on-call is paged now.
        page = await expect(oncall, world, None, "You are on call")
        assert "INC-1" in text_of(page) and "high" in text_of(page)
        post = await expect(world.lead, world, world.triage, "New incident INC-1")
        assert "Paging on-call" in text_of(post)

        bob_dm = await open_dm(bob, world)
        await ask(bob, world, bob_dm, "!incident phishing the same paypa1 mail", "INC-2")
        await ask(world.lead, world, world.triage, "!merge INC-2 INC-1", "merged into INC-1")
        await expect(bob, world, None, "merged there")

        await ask(world.lead, world, world.triage, "!ack INC-1", "escalation stopped")
        on_it = await expect(alice, world, None, "a person is on it")
        assert world.lead.user_id in text_of(on_it)
        await world.lead.send(world.triage, "!note INC-1 kit from last week")
        for state in ("contained", "resolved", "closed"):
            await ask(world.lead, world, world.triage, f"!status INC-1 {state}", f"now {state}")
            await expect(alice, world, None, f"is {state}")
        closed = await expect(bob, world, None, "is closed")
        assert "INC-2 (merged into INC-1)" in text_of(closed)
        mine = await ask(alice, world, dm, "!status INC-1", "(Phishing or scam), reported")
        assert all("kit from last week" not in text_of(e) for e in alice.events + bob.events)
        assert "INC-1" in text_of(mine)

        config = world.write_config(
            security_team=[world.lead.user_id, oncall.user_id],
            incidents={"oncall": [oncall.user_id]},
        )
        report = world.dir / "INC-1.md"
        assert (
            await asyncio.to_thread(
                main, ["incident", "export", "INC-1", "-o", str(report), "-c", str(config)]
            )
            == 0
        )
        assert (
            await asyncio.to_thread(
                main, ["incident", "verify", "INC-1", str(report), "-c", str(config)]
            )
            == 0
        )
        text = report.read_text(encoding="utf-8")
        tampered = text.replace("Status resolved → closed", "Status resolved → c1osed")
        assert tampered != text
        report.write_text(tampered, encoding="utf-8")  # one character changed
        assert (
            await asyncio.to_thread(
                main, ["incident", "verify", "INC-1", str(report), "-c", str(config)]
            )
            == 1
        )
        assert "NOT VERIFIED" in capsys.readouterr().out
    finally:
        await bot.stop()


async def test_incidents_low_unacknowledged_is_escalated_until_ack(world: BotWorld) -> None:
    alice, primary, backup = [await world.user(n) for n in ("alice", "primary", "backup")]
    playbooks = world.dir / "playbooks.yaml"
    playbooks.write_text(
        "types:\n  - key: other\n    name: Something else\n    default_severity: low\n"
        "    first_steps: [Write down what you saw.]\n"
    )
    clock = ManualClock(datetime.now(UTC))
    bot = await start_bot(
        world,
        clock,
        team=[primary.user_id, backup.user_id],
        playbooks_file=str(playbooks),
        escalation_check_interval=0.2,
    )
    try:
        dm = await open_dm(alice, world)
        await ask(alice, world, dm, "!incident other the wiki shows an odd banner", "INC-1")
        post = await expect(world.lead, world, world.triage, "New incident INC-1")
        assert "low (assumed)" in text_of(post) and "Paging" not in text_of(post)
        assert bot.app is not None
        async with bot.app.db.sessions() as session:
            incident = (await session.scalars(select(Incident))).one()
        deadline = bot.app.settings.incidents.ack_deadline("low", incident.created_at)
        clock.set(deadline - timedelta(minutes=1))
        await asyncio.sleep(0.6)
        await world.lead.sync(timeout_ms=0)
        assert not [e for e in world.lead.events if said(world, world.triage, "escalating")(e)]
        clock.set(deadline + timedelta(minutes=1))
        up = await expect(world.lead, world, world.triage, "escalating to the on-call")
        assert "not acknowledged" in text_of(up) and primary.user_id in text_of(up)
        await expect(primary, world, None, "You are on call")
        clock.set(deadline + timedelta(minutes=16))  # the default policy's next step
        up = await expect(world.lead, world, world.triage, "escalating to the backup on-call")
        assert backup.user_id in text_of(up)
        await expect(backup, world, None, "You are on call")

        await ask(world.lead, world, world.triage, "!ack INC-1", "escalation stopped")
        await expect(alice, world, None, f"a person is on it: {world.lead.user_id}")
        clock.set(deadline + timedelta(hours=3))
        await asyncio.sleep(1)  # several scheduler runs: the team step never comes
        await world.lead.sync(timeout_ms=0)
        ups = [e for e in world.lead.events if said(world, world.triage, "escalating")(e)]
        assert len(ups) == 2

        # A regulatory clock started by the team reminds the triage thread at 90 %.
        await ask(world.lead, world, world.triage, "!clock INC-1 gdpr", "GDPR")
        clock.advance(timedelta(hours=65))  # 90 % of 72 h is 64.8 h
        reminder = await expect(world.lead, world, world.triage, "90% of the time")
        assert reminder["content"]["m.relates_to"]["event_id"] == post["event_id"]
    finally:
        await bot.stop()
