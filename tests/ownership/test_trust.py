"""Answers people can trust: why it matched, where the entry lives, the stale chain.

Through the real router, on SQLite and PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import pytest

from bot.features.ownership.importer import import_map
from bot.storage import Database
from tests.ownership.helpers import EXAMPLE_MAP, START, Harness

FALLBACK = "the security team in #triage"
ONCALL = "@oncall-a:example.org"
CHAIN_MAP = """\
areas:
  - name: Release signing
    aliases: [code signing]
    owners: ["@release-lead:example.org"]
    backups: ["@release-backup:example.org"]
    security: true
    verified: 2026-01-10
  - name: Payroll
    owners: ["@pay:example.org"]
    verified: 2026-01-10
  - name: Printers
    owners: ["@printer:example.org"]
    verified: 2026-11-20
"""


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def harness(db: Database, oncall: list[str] | None = None) -> Harness:
    return Harness(
        db,
        ownership={"fallback_contact": FALLBACK, "stale_after_days": 90},
        incidents={"oncall": oncall or []},
    )


@pytest.fixture
async def bot(db: Database) -> Harness:
    async with db.sessions.begin() as session:
        await import_map(
            session, EXAMPLE_MAP.read_text(), actor="cli:maria", now=START,
            source="config/responsibilities.yaml",
        )  # fmt: skip
    return harness(db, [ONCALL])


async def test_ownership_answer_cites_why_source_line_and_verifier(bot: Harness) -> None:
    reply = await bot.say("who handles phishing?")
    assert reply is not None
    body = reply["body"]
    line = _line_of(EXAMPLE_MAP.read_text(), "- name: Phishing and scams")
    assert f"source: config/responsibilities.yaml line {line};" in body
    assert "last verified 2026-11-12 (10 days ago) by cli:maria" in body
    assert "(matched: phishing → Phishing and scams (exact name or alias))" in body
    assert f"On call now for security: {ONCALL}" in body  # a security matter
    assert "Careful" not in body  # verified 10 days ago: not stale


async def test_ownership_situation_in_the_room_says_why(bot: Harness) -> None:
    reply = await bot.say("someone leaked an API key, who handles that?")
    assert reply is not None
    assert reply["body"].startswith("Incident response: owned by")
    assert "(matched: leaked an api key → Incident response (covers))" in reply["body"]


@pytest.mark.parametrize(
    "trap",
    ["who is in charge of backups?", "who handles secrets?", "my chair broke, who can help?"],
)
async def test_ownership_traps_in_the_room_name_no_owner(bot: Harness, trap: str) -> None:
    reply = await bot.say(trap)
    if reply is not None:  # "my chair broke" may also be a fallback
        assert ":example.org" not in reply["body"]
        assert "no owner" in reply["body"]


async def test_ownership_stale_owner_walks_to_backup_then_oncall(db: Database) -> None:
    async with db.sessions.begin() as session:
        await import_map(session, CHAIN_MAP, actor="test", now=START, source="map.yaml")
    bot = harness(db, [ONCALL, "@oncall-b:example.org"])
    body = (await bot.say("who owns code signing?") or {})["body"]
    assert "⚠ Careful: the owner was last verified 2026-01-10, over 90 days ago." in body
    assert "Contact first: @release-backup:example.org" in body
    assert "(then: owner → backup → on-call → security team)" in body
    assert f"On call now for security: {ONCALL}, @oncall-b:example.org" in body
    assert "source: map.yaml line 2;" in body
    # no backup: the on-call comes first
    body = (await bot.say("who handles payroll?") or {})["body"]
    assert f"Contact first: {ONCALL}" in body
    # fresh: no warning, no on-call (not a security matter)
    body = (await bot.say("who owns printers?") or {})["body"]
    assert "Careful" not in body and "On call" not in body


async def test_ownership_stale_without_oncall_ends_at_security_team(db: Database) -> None:
    async with db.sessions.begin() as session:
        await import_map(session, CHAIN_MAP, actor="test", now=START)
    bot = harness(db)
    body = (await bot.say("who handles payroll?") or {})["body"]
    assert f"Contact first: {FALLBACK}" in body
    assert "On call now for security: nobody configured" in body


async def test_ownership_deactivated_owner_is_stale_at_once(db: Database) -> None:
    async with db.sessions.begin() as session:
        await import_map(session, CHAIN_MAP, actor="test", now=START)
    bot = harness(db, [ONCALL])
    service = bot.plugin("ownership").service  # type: ignore[attr-defined]
    service.deactivated.add("@printer:example.org")  # type: ignore[attr-defined]
    body = (await bot.say("who owns printers?") or {})["body"]
    assert "the owner's account (@printer:example.org) is deactivated" in body
    assert f"Contact first: {ONCALL}" in body


async def test_ownership_index_is_built_off_the_event_loop(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from bot.features.ownership import service as service_module

    threads: list[str] = []
    real = service_module.MapIndex.build

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(service_module.MapIndex, "build", spy)
    assert await bot.say("who owns dns?") is not None
    assert threads and threads[0] != threading.main_thread().name
