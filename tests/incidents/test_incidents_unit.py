"""Incidents through the real router and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.commands.context import IncomingMessage, RoomKind
from bot.configfile import ConfigError
from bot.features.incidents import repository as repo
from bot.features.incidents.escalation import escalate_due
from bot.features.incidents.intake_incident import expire_intakes
from bot.features.incidents.models import Incident, IncidentIntake
from bot.features.incidents.playbooks import load_playbooks
from bot.maintenance import PRUNED_CONTENT, prune
from bot.storage import Database
from tests.incidents.conftest import (
    ALICE,
    BACKUP,
    DM,
    HELPDESK,
    LEAD,
    PRIMARY,
    START,
    TRIAGE,
    Harness,
    make_settings,
)
from tests.support import desk

SECRET = "A mail asked me to log in at paypa1-login.example"


async def incidents_in(h: Harness) -> list[Incident]:
    async with h.services.db.sessions() as session:
        return list(await session.scalars(select(Incident).order_by(Incident.id)))


async def guided(h: Harness, severity: str = "high", kind: str = "lost my laptop") -> str:
    await h.say("!incident")
    await h.say(kind)
    if "(yes / no / skip)" in await h.say("Left it on the train"):
        await h.say("no")  # the type's key question
    await h.say("skip")
    await h.say("work laptop with ssh keys")
    return await h.say(severity)


async def timeline(h: Harness, number: int = 1) -> list[tuple[str, str]]:
    async with h.services.db.sessions() as session:
        return [(e.kind, e.text) for e in await repo.timeline(session, incident_id=number)]


async def test_incidents_guided_intake_files_and_pages_at_the_type(harness: Harness) -> None:
    h = harness
    first = await h.say("!incident")
    assert "What kind of incident" in first and "Lost or stolen device" in first
    assert await incidents_in(h) == [] and await h.to_room(TRIAGE) == []
    after_type = await h.say("2")
    # The moment the type is known: first steps, the INC number, who was alerted...
    assert "Wipe it remotely" in after_type and "What happened?" in after_type
    assert "INC-1" in after_type and "nobody will blame you" in after_type
    assert PRIMARY in after_type
    # ...and the team already has it: triage post, on-call paged (lost device is urgent).
    [incident] = await incidents_in(h)
    assert (incident.status, incident.summary, incident.paged_at) == ("reported", "", START)
    [post] = await h.to_room(TRIAGE)
    assert "New incident INC-1" in post and "details follow" in post and PRIMARY in post
    [page] = await h.to_dm(PRIMARY)
    assert "You are on call" in page and "!ack INC-1" in page and "still answering" in page
    async with h.services.db.sessions() as session:
        intake = await session.get(IncidentIntake, ALICE)
        assert intake is not None and intake.incident_id == 1
    await h.mark_sent()  # the post is out: the end-of-intake update threads on it

    assert "When did it happen" in await h.say("Left it on the train")
    assert (await incidents_in(h))[0].summary == "Left it on the train"  # added at once
    assert "What is affected" in await h.say("skip")
    assert "How bad" in await h.say("work laptop with ssh keys")
    assert len(await h.to_room(TRIAGE)) == 1  # no message per answer
    done = await h.say("critical")
    assert "INC-1" in done and "that's everything" in done
    [incident] = await incidents_in(h)
    assert (incident.type_key, incident.severity, incident.occurred) == ("device", "critical", None)
    assert incident.affected == "work laptop with ssh keys"
    rows = [r for r in await h.outbox() if r.room_id == TRIAGE]
    update = rows[-1].content
    assert update["body"].startswith("📝 INC-1") and "Left it on the train" in update["body"]
    assert update["m.relates_to"]["event_id"] == f"$sent-{rows[0].id}"
    assert len(await h.to_dm(PRIMARY)) == 1  # paged once
    async with h.services.db.sessions() as session:
        assert await session.get(IncidentIntake, ALICE) is None
    assert [kind for kind, _ in await timeline(h)] == [
        "reported", "paged", "answer", "answer", "answer", "severity", "intake"
    ]  # fmt: skip


async def test_incidents_severity_answer_pages_if_not_paged_yet(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    assert "INC-1" in await h.say("phishing")
    assert len(await h.to_room(TRIAGE)) == 1
    assert await h.to_dm(PRIMARY) == []  # phishing is medium until a signal: no page yet
    await h.say(SECRET)
    await h.say("no")
    await h.say("skip")
    await h.say("skip")
    done = await h.say("high")
    assert PRIMARY in done and "paged" in done
    [page] = await h.to_dm(PRIMARY)
    assert SECRET in page  # by now the on-call gets the reporter's words
    update = [r for r in await h.outbox() if r.room_id == TRIAGE][-1].content
    assert PRIMARY in update["m.mentions"]["user_ids"] and "Paging on-call" in update["body"]


async def test_incidents_low_severity_posts_without_paging(harness: Harness) -> None:
    await guided(harness, severity="low", kind="phishing")
    assert len(await harness.to_room(TRIAGE)) == 2  # the post and the end-of-intake update
    assert await harness.to_dm(PRIMARY) == []
    [incident] = await incidents_in(harness)
    # The reporter's "low" never lowers the assumed severity: only the team rates it down.
    assert incident.paged_at is None and incident.severity == "medium"
    assert incident.severity_set_by is None


async def test_incidents_cancel_before_the_type_files_nothing(harness: Harness) -> None:
    await harness.say("!incident")
    assert "nothing was filed" in await harness.say("cancel")
    assert await incidents_in(harness) == [] and await harness.to_room(TRIAGE) == []
    async with harness.services.db.sessions() as session:
        assert await session.get(IncidentIntake, ALICE) is None
    assert "don't know" in await harness.say("phishing")  # no longer an intake answer


async def test_incidents_cancel_after_the_type_keeps_the_incident(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    await h.say("lost laptop")
    await h.say(SECRET)
    reply = await h.say("cancel")
    assert "INC-1" in reply and "already know" in reply and "nothing was filed" not in reply
    [incident] = await incidents_in(h)
    assert incident.status == "reported" and incident.summary == SECRET
    assert ("intake", "Reporter cancelled the intake") in await timeline(h)
    _post, update = await h.to_room(TRIAGE)
    assert "cancelled the intake" in update and SECRET in update
    assert len(await h.to_dm(PRIMARY)) == 1
    async with h.services.db.sessions() as session:
        assert await session.get(IncidentIntake, ALICE) is None
    assert "don't know" in await h.say("skip")  # the intake is over


async def test_incidents_intake_expires_before_the_type(harness: Harness) -> None:
    await harness.say("!incident")
    harness.clock.advance(timedelta(minutes=31))
    assert await expire_intakes(harness.services) == 0  # nothing filed: nothing to tell
    assert "nothing was filed" in await harness.say("phishing")
    async with harness.services.db.sessions() as session:
        assert await session.get(IncidentIntake, ALICE) is None


async def test_incidents_intake_expiry_keeps_the_incident(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    await h.say("phishing")
    await h.say(SECRET)
    h.clock.advance(timedelta(minutes=29))
    assert await expire_intakes(h.services) == 0
    h.clock.advance(timedelta(minutes=2))
    assert await expire_intakes(h.services) == 1
    assert await expire_intakes(h.services) == 0  # once
    [dm] = [b for b in await h.to_dm(ALICE) if "stopped asking" in b]
    assert "INC-1" in dm and "already has" in dm
    update = (await h.to_room(TRIAGE))[-1]
    assert "timed out" in update and SECRET in update
    assert any(kind == "intake" and "timed out" in text for kind, text in await timeline(h))
    assert "don't know" in await h.say("skip")  # the intake is over


async def test_incidents_late_answer_after_expiry_keeps_the_incident(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    await h.say("malware")
    h.clock.advance(timedelta(minutes=31))
    reply = await h.say("my antivirus flagged a file")  # before the expiry job ran
    assert "INC-1" in reply and "stopped asking" in reply
    assert [k for k, _ in await timeline(h)] == ["reported", "paged", "intake"]  # malware: high
    assert await expire_intakes(h.services) == 0
    assert len(await h.to_room(TRIAGE)) == 2


async def test_incidents_new_report_ends_the_intake_in_progress(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    await h.say("phishing")
    assert "What kind of incident" in await h.say("!incident")
    assert ("intake", "Reporter started a new report; this intake ended") in await timeline(h)
    assert "INC-2" in await h.say("malware")
    assert len(await incidents_in(h)) == 2


async def test_incidents_one_shot_report_ends_the_intake_in_progress(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    await h.say("phishing")  # INC-1 filed, the intake now asks what happened
    reply = await h.say(f"!incident malware {SECRET}")
    assert "INC-2" in reply
    assert ("intake", "Reporter started a new report; this intake ended") in await timeline(h)
    async with h.services.db.sessions() as session:
        assert await session.get(IncidentIntake, ALICE) is None
    # The next message is not taken as an answer to INC-1's questions.
    await h.say("it was yesterday")
    incident_1, incident_2 = await incidents_in(h)
    assert incident_1.summary == "" and incident_2.summary == SECRET


async def test_incidents_one_shot_report_drops_an_intake_before_the_type(
    harness: Harness,
) -> None:
    h = harness
    await h.say("!incident")
    assert "INC-1" in await h.say(f"!incident malware {SECRET}")
    assert "didn't recognise" not in await h.say("banana")
    assert len(await incidents_in(h)) == 1


async def test_incidents_intake_resumes_after_restart(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    await h.say("seed")
    # A new router and intake over the same database: what a restarted bot has.
    h.router = h.build_router()
    assert "control funds" in await h.say(SECRET)  # the type's key question, next
    [incident] = await incidents_in(h)
    assert incident.summary == SECRET


async def test_incidents_type_answer_redelivered_files_once(harness: Harness) -> None:
    h = harness
    await h.say("!incident")
    message = IncomingMessage(
        event_id="$type-answer",
        room_id=DM,
        sender=ALICE,
        body="lost laptop",
        timestamp=h.clock(),
        room_kind=RoomKind.DIRECT,
    )
    assert await h.router.handle(message) is True
    assert await h.router.handle(message) is False  # a retry after a crash: already handled
    assert len(await incidents_in(h)) == 1
    assert len(await h.to_room(TRIAGE)) == 1 and len(await h.to_dm(PRIMARY)) == 1


async def test_incidents_report_text_not_logged(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    await harness.say("!incident")
    await harness.say("phishing")
    await harness.say(SECRET)
    await harness.say(SECRET)
    await harness.say("cancel")
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert any("INC-1" in line for line in ours)
    assert all(SECRET not in line for line in ours)


async def test_incidents_unknown_type_asks_again(harness: Harness) -> None:
    await harness.say("!incident")
    assert "didn't recognise" in await harness.say("banana")
    assert "First" not in await harness.say("!ping")  # explicit commands bypass the intake
    assert "What happened?" in await harness.say("malware")


async def test_incidents_one_shot_in_public_room_keeps_text_private(harness: Harness) -> None:
    h = harness
    reply = await h.say(f"!incident phishing {SECRET}", room=HELPDESK, kind=RoomKind.HELPDESK)
    assert "INC-1" in reply and SECRET not in reply
    [dm] = await h.to_dm(ALICE)
    assert "Do not click anything else" in dm and "INC-1" in dm
    assert all(SECRET not in body for body in await h.to_room(HELPDESK))
    assert SECRET in (await h.to_room(TRIAGE))[0]
    assert await h.to_dm(PRIMARY) == []  # phishing is medium unless the report says worse


async def test_incidents_one_shot_finds_type_in_text(harness: Harness) -> None:
    reply = await harness.say("!incident someone stole my phone at the airport")
    assert "Sign the device out" in reply
    [incident] = await incidents_in(harness)
    assert incident.type_key == "device"
    assert await harness.to_dm(PRIMARY)  # urgent type without a severity pages


async def test_incidents_outsider_refused(harness: Harness) -> None:
    await harness.say(f"!incident phishing {SECRET}")
    for command in ("!show INC-1", "!ack INC-1", "!export INC-1", "!incidents", "!note INC-1 x"):
        reply = await harness.say(command, sender="@mallory:test")
        assert "for the security team" in reply and SECRET not in reply
    shown = await harness.say("!show INC-1", sender=LEAD, room=HELPDESK, kind=RoomKind.HELPDESK)
    assert "triage room" in shown and SECRET not in shown
    # !update's answer names the reporter: refused in the public room, nothing relayed.
    updated = await harness.say(
        "!update INC-1 we are on it", sender=LEAD, room=HELPDESK, kind=RoomKind.HELPDESK
    )
    assert "triage room" in updated and ALICE not in updated
    assert not any("we are on it" in body for body in await harness.to_dm(ALICE))


async def test_incidents_triage_verbs_and_timeline(harness: Harness) -> None:
    h = harness
    await h.say(f"!incident account {SECRET}")
    assert "acknowledged" in await h.team("!ack INC-1")
    assert "already acknowledged" in await h.team("!ack INC-1")
    assert "severity is high" in await h.team("!sev INC-1 high")
    assert f"assigned to {BACKUP}" in await h.team(f"!assign INC-1 {BACKUP}")
    assert "now contained" in await h.team("!status INC-1 contained sessions revoked")
    await h.team("!note INC-1 todo: check the mail filters")
    assert "Sent to" in await h.team("!update INC-1 We reset your sessions.")
    assert any("We reset your sessions." in b for b in await h.to_dm(ALICE))
    assert any("assigned incident INC-1" in b for b in await h.to_dm(BACKUP))
    listing = await h.team("!incidents open")
    assert "INC-1 [contained]" in listing
    shown = await h.team("!show 1")  # a bare number resolves when only one kind has it
    for expected in ("Acknowledged", "Severity", "contained", "check the mail filters"):
        assert expected in shown
    assert "Unknown state" in await h.team("!status INC-1 exploded")
    assert "no incident INC-9" in await h.team("!ack INC-9")


async def test_incidents_escalation_once_per_level(harness: Harness) -> None:
    h = harness
    await guided(h, severity="high")  # paged at once; must be acknowledged within 15 min
    assert await escalate_due(h.services) == 0
    h.clock.advance(timedelta(minutes=15))
    assert await escalate_due(h.services) == 1  # re-raised: the on-call again
    assert await escalate_due(h.services) == 0  # each level once
    assert any("escalating to the on-call" in b for b in await h.to_room(TRIAGE))
    h.clock.advance(timedelta(minutes=15))
    assert await escalate_due(h.services) == 1
    assert any("escalating to the backup on-call" in b for b in await h.to_room(TRIAGE))
    assert any("You are on call" in b for b in await h.to_dm(BACKUP))
    h.clock.advance(timedelta(minutes=15))
    assert await escalate_due(h.services) == 1
    team_post = (await h.to_room(TRIAGE))[-1]
    assert "every team member" in team_post and LEAD in team_post
    assert any("You are on call" in b for b in await h.to_dm(LEAD))  # everyone by DM
    h.clock.advance(timedelta(hours=2))
    assert await escalate_due(h.services) == 0  # one round by default: nothing more
    shown = await h.team("!export INC-1")
    assert "Escalation 1 to the on-call" in shown and "Escalation 3 to every team" in shown


async def test_incidents_ack_stops_escalation(harness: Harness) -> None:
    await guided(harness, severity="critical")
    await harness.say("!ack INC-1", sender=PRIMARY, room=TRIAGE, kind=RoomKind.TRIAGE)
    harness.clock.advance(timedelta(hours=1))
    assert await escalate_due(harness.services) == 0


async def test_incidents_raising_severity_pages(harness: Harness) -> None:
    await harness.say(f"!incident phishing {SECRET}")
    assert await harness.to_dm(PRIMARY) == []
    assert PRIMARY in await harness.team("!sev INC-1 critical")
    assert len(await harness.to_dm(PRIMARY)) == 1


async def test_incidents_pin_adds_thread_message_to_timeline(harness: Harness) -> None:
    h = harness
    await h.say(f"!incident malware {SECRET}")
    await h.mark_sent()
    incident = (await incidents_in(h))[0]
    async with h.services.db.sessions() as session:
        post = await repo.incident_for_event(session, event_id=f"$sent-{(await h.outbox())[0].id}")
    assert post is not None and post.id == incident.id
    post_event = f"$sent-{(await h.outbox())[0].id}"
    await h.team("the EDR flagged the same hash on two hosts", thread_root=post_event)
    outside = await h.team("lunch?")
    assert outside == ""
    async with h.services.db.sessions() as session:
        kept = await session.scalars(select(repo.IncidentMessage))
        [message] = list(kept)
    await h.react(message.event_id)
    await h.react(message.event_id)  # twice: pinned once
    await h.react(post_event, sender="@mallory:test")  # not the team: ignored
    report = await h.team("!export INC-1")
    assert report.count("EDR flagged the same hash") == 1
    assert "| pinned |" in report and "(bot post)" not in report
    await h.react(post_event)  # the incident post itself
    assert "(bot post) 🚨 New incident INC-1" in await h.team("!export INC-1")


async def test_incidents_pin_after_housekeeping_records_the_post_text(harness: Harness) -> None:
    h = harness
    await h.say(f"!incident malware {SECRET}")
    await h.mark_sent()
    post_event = f"$sent-{(await h.outbox())[0].id}"
    # Housekeeping empties the post's content once it is older than the retention.
    result = await prune(
        h.services.db, now=h.clock() + timedelta(days=400), retention=timedelta(days=1)
    )
    assert result.outbox_emptied >= 1
    assert (await h.outbox())[0].content == PRUNED_CONTENT
    await h.react(post_event)
    report = await h.team("!export INC-1")
    assert "(bot post) 🚨 New incident INC-1: Malware" in report


async def test_incidents_export_has_summary_timeline_followups(harness: Harness) -> None:
    await guided(harness)
    await harness.team("!note INC-1 follow-up: replace the laptop")
    report = await harness.team("!export INC-1")
    for section in ("# INC-1", "## Summary", "## Timeline", "## First steps given", "## Open"):
        assert section in report
    assert "Wipe it remotely" in report and "replace the laptop" in report
    assert "| reported |" in report and "| paged |" in report


def test_incidents_playbooks_invalid_file_names_problem(tmp_path: Path) -> None:
    bad = tmp_path / "playbooks.yaml"
    bad.write_text("types:\n  - key: x\n    name: X\n    first_steps: []\n")
    with pytest.raises(ConfigError) as err:
        load_playbooks(bad)
    assert "first_steps" in str(err.value)


def test_incidents_weekly_rotation() -> None:
    settings = make_settings(
        rotation={"start": "2026-11-02", "weeks": [["@a:test", "@b:test"], ["@c:test"]]}
    ).incidents
    assert settings.oncall_for(START.date()) == ["@c:test"]  # week 3 → index 1
    assert settings.oncall_for(START.date() + timedelta(days=7)) == ["@a:test", "@b:test"]


def test_incidents_rotation_changes_over_at_a_local_hour() -> None:
    settings = make_settings(
        rotation={
            "start": "2026-11-02",
            "weeks": [["@a:test"], ["@c:test"]],
            "timezone": "Europe/Berlin",
            "changeover_hour": 10,
        }
    ).incidents
    monday = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)  # 09:30 in Berlin: before change-over
    assert settings.oncall_at(monday) == ["@c:test"]
    assert settings.oncall_at(monday + timedelta(hours=1)) == ["@a:test"]  # 10:30 Berlin


async def test_incidents_cli_export(harness: Harness, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from bot.cli import build_parser
    from bot.features.incidents.export import cli_export

    await guided(harness)
    await harness.team("!note INC-1 action: buy a new laptop")
    config = tmp_path / "config.yaml"
    settings = make_settings().model_dump(mode="json")
    settings["matrix"]["password"] = "x"
    settings["database"]["url"] = harness.services.db.url
    config.write_text(yaml.safe_dump(settings))
    args = build_parser().parse_args(["incident", "export", "INC-1", "--config", str(config)])
    assert await cli_export(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("# INC-1 — Lost or stolen device")
    assert "| ack |" not in out and "| paged |" in out and "buy a new laptop" in out
    missing = build_parser().parse_args(["incident", "export", "INC-7", "--config", str(config)])
    assert await cli_export(missing) == 1


async def test_incidents_intake_answers_are_counted_as_intake(harness: Harness) -> None:
    h = harness
    registry = h.router.metrics.registry

    def counted(outcome: str) -> float:
        sample = registry.get_sample_value("helpdesk_messages_total", {"outcome": outcome})
        return sample or 0.0

    await h.say("!incident")
    await h.say("2")
    await h.say("Left it on the train")
    assert counted("intake") == 2
    assert counted("unknown") == 0
    assert counted("command") == 1


class QuestionMarkHarness(Harness):
    """The incidents desk with ``bot.command_prefix: "?"``."""

    def __init__(self, db: Database):
        settings = make_settings()
        settings.bot.command_prefix = "?"
        desk.Desk.__init__(self, db, settings)


async def test_incidents_texts_follow_the_command_prefix(db: Database) -> None:
    h = QuestionMarkHarness(db)
    assert "?incident" in await h.say("?help")
    assert "Send ?incident whenever you need to" in await h.say("?incident") + await h.say("cancel")
    await h.say(f"?incident malware {SECRET}")
    [post] = await h.to_room(TRIAGE)
    assert "Acknowledge with ?ack INC-1" in post
    [page] = await h.to_dm(PRIMARY)
    assert "Acknowledge with ?ack INC-1" in page
    refused = await h.say("?show INC-1", sender=LEAD, room=HELPDESK, kind=RoomKind.HELPDESK)
    assert "?ticket reaches them privately" in refused
    assert "There is no incident INC-9" in await h.team("?ack INC-9")
    usage = await h.team("?sev INC-1")
    assert "?sev" in usage
    texts = [post, page, refused, usage]
    assert not any("!incident" in t or "!ack" in t or "!show" in t or "!sev" in t for t in texts)
