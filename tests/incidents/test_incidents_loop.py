"""Closing the loop, through the real router on SQLite and PostgreSQL: severity that
assumes the worst, acknowledgement windows and escalation (with the ack-vs-tick race),
the reporter hearing back, the hash-chained timeline, merges, clocks and leads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

from bot.cli import build_parser, main
from bot.commands.context import RoomKind
from bot.configfile import ConfigError
from bot.features.incidents import repository as repo
from bot.features.incidents.clocks import remind_clocks
from bot.features.incidents.escalation import escalate_due
from bot.features.incidents.export import cli_export, cli_verify
from bot.features.incidents.models import Incident, IncidentEvent
from bot.features.incidents.playbooks import load_playbooks
from bot.features.incidents.roles import remind_leads
from tests.incidents.conftest import (
    ALICE,
    BACKUP,
    HELPDESK,
    LEAD,
    PRIMARY,
    TRIAGE,
    Harness,
    make_settings,
)

BOB = "@bob:test"
PHISHED = "!incident phishing entered my password on a fake login page at paypa1.example"


async def one(h: Harness, number: int = 1) -> Incident:
    async with h.services.db.sessions() as session:
        incident = await session.get(Incident, number)
        assert incident is not None
        return incident


def told(bodies: list[str], needle: str) -> list[str]:
    return [b for b in bodies if needle in b]


# -- 1. severity that assumes the worst ------------------------------------------------


async def test_incidents_signal_in_one_shot_report_pages_at_once(harness: Harness) -> None:
    h = harness
    reply = await h.say(PHISHED)
    assert "INC-1" in reply and PRIMARY in reply
    incident = await one(h)
    assert incident.severity == "high" and incident.severity_set_by is None
    [page] = await h.to_dm(PRIMARY)
    assert "You are on call" in page and "high (assumed)" in page
    [post] = await h.to_room(TRIAGE)
    assert "Paging on-call" in post and PRIMARY in post


async def test_incidents_unrated_report_is_high_unless_the_playbook_says(harness: Harness) -> None:
    h = harness
    await h.say("!incident other my screen shows strange pop-ups")
    await h.say("!incident phishing got an odd mail, did nothing", sender=BOB)
    other, phishing = await one(h, 1), await one(h, 2)
    assert other.severity == "high" and phishing.severity == "medium"
    assert len(await h.to_dm(PRIMARY)) == 1  # only the high one pages
    assert "severity is low" in await h.team("!sev INC-1 low")
    assert (await one(h, 1)).severity_set_by == LEAD


async def test_incidents_guided_key_question_raises_and_pages(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    await h.say("phishing")
    assert await h.to_dm(PRIMARY) == []
    question = await h.say("A mail with a link to a login page")
    assert "password, a 2FA code or a seed phrase" in question
    after = await h.say("yes")
    assert "paged the on-call" in after and "When did it happen" in after
    assert (await one(h)).severity == "high"
    assert len(await h.to_dm(PRIMARY)) == 1
    raised = (await h.to_room(TRIAGE))[-1]
    assert "medium → high" in raised and PRIMARY in raised


def test_incidents_playbook_problem_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "playbooks.yaml"
    bad.write_text(
        "types:\n  - key: x\n    name: X\n    default_severity: huge\n    first_steps: [a]\n"
    )
    with pytest.raises(ConfigError) as err:
        load_playbooks(bad)
    assert "line 4" in str(err.value) and "default_severity" in str(err.value)
    config = tmp_path / "config.yaml"
    data = make_settings(playbooks_file=str(bad)).model_dump(mode="json")
    data["matrix"]["password"] = "x" * 8
    config.write_text(yaml.safe_dump(data))
    assert main(["check-config", "--config", str(config)]) == 2


# -- 2. everything acknowledged, compare-and-set ------------------------------------------


async def test_incidents_low_is_reraised_after_one_business_day(harness: Harness) -> None:
    h = harness  # Monday 2026-11-23 09:00 UTC
    await h.say("!incident other my screen shows strange pop-ups")
    await h.team("!sev INC-1 low")  # rated, not acknowledged
    h.clock.advance(timedelta(hours=7, minutes=59))
    assert await escalate_due(h.services) == 0
    h.clock.advance(timedelta(minutes=1))  # Monday 17:00: one business day used
    assert await escalate_due(h.services) == 1
    reraised = (await h.to_room(TRIAGE))[-1]
    assert "not acknowledged" in reraised and "escalating to the on-call" in reraised


async def test_incidents_low_window_skips_the_weekend(harness: Harness) -> None:
    h = harness
    h.clock.set(datetime(2026, 11, 27, 16, 0, tzinfo=UTC))  # Friday 16:00
    await h.say("!incident other my screen shows strange pop-ups")
    await h.team("!sev INC-1 low")
    h.clock.set(datetime(2026, 11, 30, 15, 59, tzinfo=UTC))  # Fri 16-17 + Mon 9-15:59
    assert await escalate_due(h.services) == 0
    h.clock.set(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    assert await escalate_due(h.services) == 1


async def test_incidents_ack_racing_an_escalation_tick_wins(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The acknowledgement commits after the job read the incident, before it writes."""
    h = harness
    await h.say("!incident other my screen shows strange pop-ups")
    h.clock.advance(timedelta(minutes=16))
    read = repo.unacknowledged

    async def ack_lands_after_the_read(session):  # type: ignore[no-untyped-def]
        found = await read(session)
        await h.say("!ack INC-1", sender=PRIMARY, room=TRIAGE, kind=RoomKind.TRIAGE)
        return found

    monkeypatch.setattr(repo, "unacknowledged", ack_lands_after_the_read)
    before = len(await h.rows())
    assert await escalate_due(h.services) == 0
    new = [r.content["body"] for r in (await h.rows())[before:]]
    assert any("escalation stopped" in b for b in new)
    assert not any("escalating" in b or "You are on call" in b for b in new)
    assert (await one(h)).escalation_level == 0


async def test_incidents_concurrent_acks_and_ticks_never_page_after_stopped(
    harness: Harness,
) -> None:
    h = harness
    await h.say("!incident other my screen shows strange pop-ups")
    h.clock.advance(timedelta(hours=3))
    results = await asyncio.gather(
        escalate_due(h.services),
        h.say("!ack INC-1", sender=PRIMARY, room=TRIAGE, kind=RoomKind.TRIAGE),
        escalate_due(h.services),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    for _ in range(3):
        assert await escalate_due(h.services) == 0
    bodies = [r.content["body"] for r in await h.rows()]
    stopped = [i for i, b in enumerate(bodies) if "escalation stopped" in b]
    assert len(stopped) == 1
    assert not [b for b in bodies[stopped[0] :] if "escalating" in b or "You are on call" in b]


# -- 3. the reporter hears back ---------------------------------------------------------


async def test_incidents_reporter_hears_ack_states_and_close(harness: Harness) -> None:
    h = harness
    await h.say(PHISHED)
    await h.team("!note INC-1 internal: the attacker's kit is the one from last week")
    await h.team("!ack INC-1")
    await h.team("!status INC-1 investigating")
    await h.team("!status INC-1 contained password reset, sessions revoked")
    await h.team("!status INC-1 resolved")
    await h.team("!status INC-1 closed")
    dms = await h.to_dm(ALICE)
    assert told(dms, f"a person is on it: {LEAD}")
    for word in ("is contained", "is resolved", "is closed"):
        assert len(told(dms, word)) == 1, word
    assert not told(dms, "investigating") and not told(dms, "attacker's kit")
    assert not told(dms, "sessions revoked")  # the team's status text is internal too
    mine = await h.say("!status INC-1")
    assert "INC-1" in mine and "closed" in mine and "attacker" not in mine
    other = await h.say("!status INC-1", sender=BOB)
    assert "no incident INC-1" in other and "Phishing" not in other
    assert "for the security team" in await h.say("!status INC-1 closed", sender=BOB)
    public = await h.say("!status INC-1", room=HELPDESK, kind=RoomKind.HELPDESK)
    assert "direct message" in public and "Phishing" not in public


# -- 4. tamper-evident timeline -----------------------------------------------------------


async def test_incidents_export_verifies_and_any_change_fails(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    h = harness
    await h.say(PHISHED)
    await h.team("!ack INC-1")
    await h.team("!note INC-1 todo: block the domain")
    config = tmp_path / "config.yaml"
    data = make_settings().model_dump(mode="json")
    data["matrix"]["password"] = "x" * 8
    data["database"]["url"] = h.services.db.url
    config.write_text(yaml.safe_dump(data))
    report = tmp_path / "INC-1.md"
    parse = build_parser().parse_args
    assert (
        await cli_export(
            parse(["incident", "export", "INC-1", "-o", str(report), "-c", str(config)])
        )
        == 0
    )
    text = report.read_text(encoding="utf-8")
    assert "Timeline chain head (SHA-256): " in text.splitlines()[-1]
    verify = parse(["incident", "verify", "INC-1", str(report), "-c", str(config)])
    assert await cli_verify(verify) == 0
    assert "VERIFIED" in capsys.readouterr().out
    report.write_text(text.replace("block the domain", "block the domaim"), encoding="utf-8")
    assert await cli_verify(verify) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out
    # Edit a stored entry: the chain itself no longer holds.
    report.write_text(text, encoding="utf-8")
    async with h.services.db.sessions.begin() as session:
        await session.execute(
            update(IncidentEvent).where(IncidentEvent.kind == "note").values(text="nothing")
        )
    assert await cli_verify(verify) == 1
    assert "changed after it was written" in capsys.readouterr().out


async def test_incidents_chain_detects_deletion_and_reorder(harness: Harness) -> None:
    from bot.features.incidents.chain import check_chain

    h = harness
    await h.say(PHISHED)
    for n in range(3):
        await h.team(f"!note INC-1 step {n}")
    async with h.services.db.sessions() as session:
        events = list(await repo.chain(session, incident_id=1))
    assert check_chain(events) == []
    assert "reordered or deleted" in check_chain(events[:2] + events[3:])[0]
    assert check_chain([events[0], events[2], events[1], *events[3:]])


async def test_incidents_concurrent_entries_keep_one_chain(harness: Harness) -> None:
    from bot.features.incidents.chain import check_chain

    h = harness
    await h.say(PHISHED)
    await asyncio.gather(*(h.team(f"!note INC-1 note {n}") for n in range(8)))
    async with h.services.db.sessions() as session:
        events = list(await repo.chain(session, incident_id=1))
    assert len([e for e in events if e.kind == "note"]) == 8
    assert check_chain(events) == []


# -- 5. merges --------------------------------------------------------------------------


async def test_incidents_merged_reporters_hear_the_outcome(harness: Harness) -> None:
    h = harness
    await h.say(PHISHED)
    await h.say("!incident phishing same fake login mail, entered my password too", sender=BOB)
    assert "INC-2 merged into INC-1" in await h.team("!merge INC-2 INC-1")
    assert told(await h.to_dm(BOB), "merged there")
    h.clock.advance(timedelta(hours=1))
    assert not told(
        [r.content["body"] for r in await h.rows() if "INC-2 (" in r.content["body"]], "⏫"
    )
    assert "merged into INC-1" in await h.say("!status INC-2", sender=BOB)
    await h.team("!status INC-1 closed")
    assert told(await h.to_dm(ALICE), "Your report INC-1 is closed")
    [bob_closed] = told(await h.to_dm(BOB), "is closed")
    assert "INC-2 (merged into INC-1)" in bob_closed


# -- 6. regulatory clocks ---------------------------------------------------------------


async def test_incidents_clock_reminds_at_50_90_and_deadline(harness: Harness) -> None:
    h = harness
    await h.say(PHISHED)
    started = await h.team("!clock INC-1 gdpr")
    assert "GDPR" in started
    h.clock.advance(timedelta(hours=36))
    assert await remind_clocks(h.services) == 1
    assert await remind_clocks(h.services) == 0
    h.clock.advance(timedelta(hours=28, minutes=48))  # 64.8 h: 90 %
    assert await remind_clocks(h.services) == 1
    assert "90% of the time" in (await h.to_room(TRIAGE))[-1]
    h.clock.advance(timedelta(hours=8))
    assert await remind_clocks(h.services) == 1
    assert "deadline has passed" in (await h.to_room(TRIAGE))[-1]
    assert "Recorded" in await h.team("!clock INC-1 met gdpr")
    shown = await h.team("!show INC-1")
    assert "Regulatory clocks" in shown and "GDPR" in shown and "by @lead:test" in shown


async def test_incidents_clock_arguments_keep_their_texts(harness: Harness) -> None:
    h = harness
    await h.say(PHISHED)
    give = "Give an incident id and a clock (gdpr"
    assert (await h.team("!clock")).startswith(give)
    assert (await h.team("!clock INC-1 met gdpr now please")).startswith(give)
    assert (await h.team("!clock T-1 gdpr")).startswith("Give an incident id like INC-12.")
    assert (await h.team("!clock INC-1 met")).startswith("Which clock was met?")
    assert "Usage: !clock INC-N <name> | clock INC-N met <name>" in await h.team("!clock")
    assert "Started for INC-1" in await h.team("!clock inc1 GDPR now")  # a 3rd word: ignored
    assert await h.team("!clock INC-1") != "INC-1 has no clocks running."


async def test_incidents_team_commands_arguments_keep_their_texts(harness: Harness) -> None:
    h = harness
    await h.say(PHISHED)
    assert (await h.team("!update INC-1")).startswith("Give an incident id and the update.")
    assert (await h.team("!update x hello")).startswith("Give an incident id like INC-12.")
    assert (await h.team("!export")).startswith("Give an incident id like INC-12.")
    assert "INC-1" in await h.team("!export INC-1 for the review")  # extra words: ignored
    assert (await h.team("!incidents some")).startswith("Say open or all.")
    assert (await h.team("!incidents ALL")).startswith("INC-1 [")
    # The privacy refusal comes before any usage error.
    public = await h.say("!update", sender=LEAD, room=HELPDESK, kind=RoomKind.HELPDESK)
    assert public.startswith("For the reporters' privacy")


# -- 7. roles ---------------------------------------------------------------------------


async def test_incidents_lead_defaults_to_acker_hands_over_and_is_reminded(
    harness: Harness,
) -> None:
    h = harness
    await h.say(PHISHED)  # high: an update every hour until contained
    await h.team("!ack INC-1")
    assert LEAD in await h.team("!lead INC-1")
    assert "now leads" in await h.team(f"!lead INC-1 {BACKUP}")
    h.clock.advance(timedelta(minutes=61))
    assert await remind_leads(h.services) == 1
    assert await remind_leads(h.services) == 0
    assert told(await h.to_dm(BACKUP), "time for a status update")
    await h.team("!status INC-1 contained")
    h.clock.advance(timedelta(hours=3))
    assert await remind_leads(h.services) == 0
    shown = await h.team("!show INC-1")
    assert f"Lead handed over: {LEAD} → {BACKUP}" in shown


async def test_incidents_timeline_hashes_cover_every_entry(harness: Harness) -> None:
    await harness.say(PHISHED)
    async with harness.services.db.sessions() as session:
        rows = list(await session.scalars(select(IncidentEvent)))
    assert rows and all(r.hash and len(r.hash) == 64 for r in rows)


def test_incidents_escalation_policy_is_data() -> None:
    settings = make_settings(
        escalation={
            "steps": [{"notify": "oncall"}, {"wait": "10m"}, {"notify": "team"}],
            "repeat": 2,
            "repeat_after": "1h",
        },
        ack_within={"critical": "2m", "low": "4 business hours"},
        rotation={"start": "2026-11-02", "weeks": [["@a:test"]], "timezone": "America/New_York"},
    ).incidents
    stages = [(s.after, s.notify, s.round) for s in settings.escalation.stages()]
    assert stages == [
        (timedelta(0), "oncall", 1),
        (timedelta(minutes=10), "team", 1),
        (timedelta(hours=1, minutes=10), "oncall", 2),
        (timedelta(hours=1, minutes=20), "team", 2),
    ]
    assert settings.ack_deadline("critical", datetime(2026, 11, 23, 3, tzinfo=UTC)) == datetime(
        2026, 11, 23, 3, 2, tzinfo=UTC
    )
    # 4 business hours from Monday 15:00 New York time: 2 today, 2 on Tuesday from 09:00.
    start = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 15:00 EST
    assert settings.ack_deadline("low", start) == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    for bad in (
        {"escalation": {"steps": [{"notify": "oncall", "wait": "5m"}]}},
        {"escalation": {"steps": [{"wait": "5m"}]}},
        {"ack_within": {"low": "soon"}},
        {"ack_within": {"urgent": "5m"}},
        {"rotation": {"start": "2026-11-02", "weeks": [["@a:test"]], "timezone": "Mars/Base"}},
    ):
        with pytest.raises(ValueError):
            make_settings(**bad)


async def test_incidents_migration_chains_existing_timelines(db_url: str) -> None:
    from sqlalchemy import insert

    from bot.features.incidents.chain import check_chain
    from bot.storage import Database
    from bot.storage.migrate import downgrade, upgrade

    await downgrade(db_url, "0006_intake_incident")
    db = Database(db_url)
    try:
        incidents_t = Incident.__table__
        events_t = IncidentEvent.__table__
        old_cols = {"id", "incident_id", "at", "author", "kind", "text", "source_event_id"}
        async with db.sessions.begin() as session:
            await session.execute(
                insert(incidents_t).values(
                    id=1, type_key="other", type_name="Other", summary="s", status="reported",
                    reporter=ALICE, first_steps=[], created_at=datetime(2026, 1, 1, tzinfo=UTC),
                    escalation_level=0,
                )
            )  # fmt: skip
            for n in range(3):
                values = {
                    "incident_id": 1,
                    "at": datetime(2026, 1, 1, 0, n, 0, 123456, tzinfo=UTC),
                    "author": LEAD,
                    "kind": "note",
                    "text": f"before the chain {n}",
                }
                await session.execute(
                    insert(events_t).values(**{k: v for k, v in values.items() if k in old_cols})
                )
    finally:
        await db.close()
    await upgrade(db_url)
    db = Database(db_url)
    try:
        async with db.sessions() as session:
            events = list(await repo.chain(session, incident_id=1))
        assert len(events) == 3 and events[0].hash and check_chain(events) == []
    finally:
        await db.close()


async def test_incidents_lead_and_merge_read_their_declared_arguments(harness: Harness) -> None:
    h = harness
    await h.say(PHISHED)
    await h.team("!ack INC-1")
    assert LEAD in await h.team("!lead inc1")  # any spelling of the id, like !claim t12
    assert "Give an incident id like INC-12." in await h.team("!lead T-1")
    assert "Give a user id like @name:server." in await h.team("!lead INC-1 backup")
    refused = await h.team("!merge INC-1")
    assert "Give the duplicate and the incident to merge it into." in refused
    assert "Usage: !merge INC-M INC-N" in refused


async def test_incidents_ack_and_sev_usage_errors_come_from_their_declarations(
    harness: Harness,
) -> None:
    h = harness
    await h.say(PHISHED)
    assert (await h.team("!ack")).startswith("Give an incident id like INC-12.\nUsage: !ack INC-N")
    wrong = await h.team("!sev INC-1 extreme")
    assert wrong.startswith("Give an incident id and low, medium, high or critical.")
    assert "severity is low" in await h.team("!sev inc1 LOW")
