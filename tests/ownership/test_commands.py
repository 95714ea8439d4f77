"""!owner and !owners through the real router, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from sqlalchemy import select

from bot.commands.context import RoomKind
from bot.features.ownership.importer import export_map, import_map
from bot.features.ownership.models import AuditEntry
from bot.features.ownership.service import VERSION_TTL
from bot.storage import Database
from tests.ownership.helpers import ALICE, EXAMPLE_MAP, LEAD, START, Harness, make_harness

FALLBACK = "the security team in #triage"


@pytest.fixture
async def bot(db: Database) -> Harness:
    async with db.sessions.begin() as session:
        await import_map(session, EXAMPLE_MAP.read_text(), actor="test", now=START)
    return make_harness(db, fallback_contact=FALLBACK)


async def _exported(h: Harness) -> dict:
    async with h.services.db.sessions() as session:
        return yaml.safe_load(await export_map(session))


def _area(doc: dict, name: str) -> dict:
    return next(a for a in doc["areas"] if a["name"] == name)


async def test_ownership_plain_question_names_owner_with_pill(bot: Harness) -> None:
    reply = await bot.say("Who handles phishing?")
    assert reply is not None
    body, html = reply["body"], reply["formatted_body"]
    assert body.startswith("Phishing and scams: owned by @security-oncall:example.org")
    assert "Backup: @security-lead:example.org" in body
    assert "How to contact: Forward the message" in body
    assert "security champion: @security-lead:example.org" in body
    assert "last verified 2026-11-12 (10 days ago)" in body
    assert 'href="https://matrix.to/#/@security-oncall:example.org"' in html
    assert reply["m.mentions"] == {}  # named, not pinged


async def test_ownership_question_in_dm_and_bang_command(bot: Harness) -> None:
    dm = await bot.say("whom should I contact about GDPR", room_kind=RoomKind.DIRECT)
    assert dm is not None and dm["body"].startswith("Privacy and personal data:")
    cmd = await bot.say("!owner multisgi")
    assert cmd is not None and cmd["body"].startswith("Treasury multisig:")


async def test_ownership_unknown_thing_gets_fallback_without_owner(bot: Harness) -> None:
    reply = await bot.say("who owns the coffee machine?")
    assert reply is not None
    assert "has no owner for 'the coffee machine'" in reply["body"]
    assert FALLBACK in reply["body"] and "!ticket" in reply["body"]
    assert ":example.org" not in reply["body"]


async def test_ownership_ambiguous_lists_candidates_without_owners(bot: Harness) -> None:
    reply = await bot.say("!owner wallet")
    assert reply is not None
    assert reply["body"].startswith("Several areas match 'wallet'")
    assert reply["body"].count("\n  ") == 2
    assert ":example.org" not in reply["body"]


@pytest.mark.parametrize(
    "question", ["Helpdesk is down again, who owns it?", "the wiki is down, who manages this?"]
)
async def test_ownership_pronoun_question_asks_which_thing(bot: Harness, question: str) -> None:
    reply = await bot.say(question)
    assert reply is not None
    assert reply["body"].startswith("Which thing do you mean?")
    assert "no owner for" not in reply["body"] and "owns" not in reply["body"]
    assert FALLBACK in reply["body"] and "!owner <thing>" in reply["body"]


async def test_ownership_pronoun_question_with_a_clear_subject_is_answered(bot: Harness) -> None:
    reply = await bot.say("I lost my laptop, who handles that?")
    assert reply is not None and reply["body"].startswith("Lost or stolen devices:")


async def test_ownership_owners_page_argument_keeps_its_texts(bot: Harness) -> None:
    refused = await bot.say("!owners x")
    assert refused is not None and refused["body"].startswith("'x' is not a page number.")
    page2 = await bot.say("!owners 2 please")  # extra words: ignored
    assert page2 is not None and "(page 2/" in page2["body"]


async def test_ownership_generic_word_gets_fallback_with_hints_no_owner(bot: Harness) -> None:
    # "security" is generic: it cannot carry a match alone (issue 13)
    reply = await bot.say("!owner security")
    assert reply is not None
    assert reply["body"].startswith("The responsibilities map has no owner for 'security'")
    assert "Incident response" in reply["body"]  # a hint, by name only
    assert ":example.org" not in reply["body"]


async def test_ownership_chatter_in_other_rooms_is_ignored(bot: Harness) -> None:
    assert await bot.say("who owns dns?", room_kind=RoomKind.OTHER) is None
    assert await bot.say("nice weather today") is None
    assert await bot.say("who owns this?") is None


async def test_ownership_team_sets_owner_and_export_shows_it(bot: Harness) -> None:
    reply = await bot.say(
        "!owner set Release signing @new-lead:example.org @second:example.org", sender=LEAD
    )
    assert reply is not None and reply["body"].startswith("✅ Owners of Release signing")
    doc = await _exported(bot)
    assert _area(doc, "Release signing")["owners"] == [
        "@new-lead:example.org",
        "@second:example.org",
    ]
    answer = await bot.say("who owns code signing?")
    assert answer is not None and "owned by @new-lead:example.org" in answer["body"]
    async with bot.services.db.sessions() as session:
        row = (await session.scalars(select(AuditEntry).where(AuditEntry.source == "chat"))).one()
    assert (row.actor, row.field, row.subject) == (LEAD, "owners", "Release signing")
    assert row.old_value == ["@release-lead:example.org"]


async def test_ownership_outsider_edit_is_refused(bot: Harness) -> None:
    reply = await bot.say("!owner set Release signing @mallory:example.org", sender=ALICE)
    assert reply is not None and "is for the security team" in reply["body"]
    assert _area(await _exported(bot), "Release signing")["owners"] == ["@release-lead:example.org"]


async def test_ownership_set_accepts_mention_pills(bot: Harness) -> None:
    html = (
        '<a href="https://matrix.to/#/@bot:example.org">Security Helpdesk</a>: '
        '!owner backup "DNS and domains" '
        '<a href="https://matrix.to/#/@dns-backup:example.org">DNS Backup</a>'
    )
    reply = await bot.say(
        '!owner backup "DNS and domains" DNS Backup', sender=LEAD, formatted_body=html
    )
    assert reply is not None and reply["body"].startswith("✅ Backups of DNS and domains")
    assert _area(await _exported(bot), "DNS and domains")["backups"] == ["@dns-backup:example.org"]


async def test_ownership_alias_describe_contact_verify(bot: Harness) -> None:
    for cmd in (
        "!owner alias DNS and domains nameservers",
        '!owner describe "DNS and domains" Zones and registrars',
        "!owner contact dns Ping #infra",
        "!owner verify Device security",
    ):
        reply = await bot.say(cmd, sender=LEAD)
        assert reply is not None and reply["body"].startswith("✅"), (cmd, reply)
    doc = await _exported(bot)
    dns = _area(doc, "DNS and domains")
    assert dns["aliases"][-1] == "nameservers"
    assert dns["description"] == "Zones and registrars"
    assert dns["contact"] == "Ping #infra"
    assert str(_area(doc, "Device security")["verified"]) == "2026-11-22"
    answer = await bot.say("who owns the nameservers?")
    assert answer is not None and answer["body"].startswith("DNS and domains:")
    # the export after chat edits imports back without a difference
    async with bot.services.db.sessions.begin() as session:
        plan = await import_map(session, await export_map(session), actor="t", now=START)
    assert plan.changes == []


async def test_ownership_edit_of_unknown_area_never_guesses(bot: Harness) -> None:
    reply = await bot.say("!owner set Relase signing @x:example.org", sender=LEAD)
    assert reply is not None and "There is no area called 'Relase signing'" in reply["body"]


async def test_ownership_remove_asks_for_confirmation(bot: Harness) -> None:
    ask = await bot.say("!owner remove Governance votes", sender=LEAD)
    assert ask is not None and '!owner remove "Governance votes" --confirm' in ask["body"]
    assert any(a["name"] == "Governance votes" for a in (await _exported(bot))["areas"])
    done = await bot.say('!owner remove "Governance votes" --confirm', sender=LEAD)
    assert done is not None and done["body"] == "✅ Removed Governance votes from the map."
    assert not any(a["name"] == "Governance votes" for a in (await _exported(bot))["areas"])
    gone = await bot.say("who handles governance?")
    assert gone is not None and "has no owner" in gone["body"]
    async with bot.services.db.sessions() as session:
        row = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "remove"))).one()
    assert (row.actor, row.source, row.subject) == (LEAD, "chat", "Governance votes")
    assert row.old_value["owners"] == ["@governance-lead:example.org"]


async def test_ownership_area_without_owner_routes_to_fallback(bot: Harness) -> None:
    extra = "areas:\n  - name: Payroll\n    description: Salaries\n"
    async with bot.services.db.sessions.begin() as session:
        await import_map(session, extra, actor="t", now=START)
    reply = await bot.say("who handles payroll?")
    assert reply is not None and reply["body"].startswith("Payroll: owned by nobody yet")
    assert f"No owner is recorded yet: please ask {FALLBACK}" in reply["body"]


async def test_ownership_owners_lists_pages_and_teams(bot: Harness) -> None:
    first = await bot.say("!owners")
    assert first is not None and "(page 1/2)" in first["body"] and "!owners 2" in first["body"]
    second = await bot.say("!owners 2")
    assert second is not None and "• Website and blog [web]" in second["body"]
    team = await bot.say("!owners team treasury")
    assert team is not None
    assert team["body"].count("•") == 2 and "Treasury multisig" in team["body"]


async def test_ownership_gaps_for_team_only(bot: Harness) -> None:
    refused = await bot.say("!owners gaps", sender=ALICE)
    assert refused is not None and "for the security team" in refused["body"]
    gaps = await bot.say("!owners gaps", sender=LEAD)
    assert gaps is not None
    body = gaps["body"]
    assert "Device security: no backup, last verified 2026-04-02" in body
    assert "Security awareness training: no backup, last verified 2025-12-01" in body
    assert "Website and blog: team web has no security champion" in body
    assert "Phishing and scams" not in body


async def test_ownership_index_refreshes_after_import_elsewhere(bot: Harness) -> None:
    assert (await bot.say("who owns payroll?"))["body"].startswith("The responsibilities map")
    extra = "areas:\n  - name: Payroll\n    owners: ['@finance-lead:example.org']\n"
    async with bot.services.db.sessions.begin() as session:  # e.g. the CLI, another process
        await import_map(session, extra, actor="cli", now=bot.clock())
    await asyncio.sleep(VERSION_TTL + 0.1)  # another process's change shows within the TTL
    reply = await bot.say("who owns payroll?")
    assert reply is not None and reply["body"].startswith("Payroll: owned by @finance-lead")
