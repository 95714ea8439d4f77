"""Owners reconfirm (👍, 👎, a name) and the map learns from its misses (digest, learn).

Through the real router and outbox on SQLite and PostgreSQL, with a controlled clock.
The same reconfirmation against a real Synapse: test_reconfirm_synapse.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from bot.commands.context import RoomKind
from bot.features.ownership import misses, reconfirm
from bot.features.ownership.importer import export_map, import_map
from bot.features.ownership.models import Miss, Reconfirmation
from bot.features.ownership.service import OwnershipService
from bot.storage import Database
from bot.storage.base import Base
from tests.ownership.helpers import ALICE, LEAD, START, Harness
from tests.support import desk

OLD = "@old-owner:example.org"
FRESH = "@fresh-owner:example.org"
MAP = f"""\
areas:
  - name: Release signing
    owners: ["{OLD}"]
    verified: 2026-01-10
  - name: Build runners
    owners: ["{OLD}"]
    verified: 2026-02-10
  - name: Printers
    owners: ["{FRESH}"]
    verified: 2026-11-20
"""


@pytest.fixture
async def bot(db: Database) -> Harness:
    async with db.sessions.begin() as session:
        await import_map(session, MAP, actor="test", now=START)
    return Harness(db, ownership={"fallback_contact": "the security team"})


def service_of(bot: Harness) -> OwnershipService:
    return bot.plugin("ownership").service  # type: ignore[attr-defined,no-any-return]


async def rows(bot: Harness) -> dict[str, Reconfirmation]:
    async with bot.db.sessions() as session:
        return {r.area_name: r for r in await session.scalars(select(Reconfirmation))}


async def test_ownership_reconfirm_one_dm_per_stale_area_then_thumbs(bot: Harness) -> None:
    service = service_of(bot)
    assert await reconfirm.send_due(bot.services, service) == 2
    assert await reconfirm.send_due(bot.services, service) == 0  # once per period
    dms = await bot.to_dm(OLD)
    assert sorted(dms) == [
        "Still the owner of Build runners? 👍 yes · 👎 no · reply with who",
        "Still the owner of Release signing? 👍 yes · 👎 no · reply with who",
    ]
    assert await bot.to_dm(FRESH) == []
    await bot.mark_sent()
    asked = await rows(bot)
    event = {name: f"$sent-{r.id}" for name, r in asked.items()}
    # someone else's 👍 does nothing; the owner's does
    await bot.react(event["Release signing"], "👍", sender=ALICE, room="helpdesk")
    assert (await rows(bot))["Release signing"].status == "pending"
    await bot.react(event["Release signing"], "👍", sender=OLD, room="helpdesk")
    await bot.react(event["Build runners"], "👎", sender=OLD, room="helpdesk")
    after = await rows(bot)
    assert after["Release signing"].status == "yes"
    assert after["Build runners"].status == "no"
    answer = await bot.say("who owns release signing?")
    assert answer is not None and f"(0 days ago) by {OLD}" not in answer["body"]
    assert "last verified 2026-11-22 (today) by " + OLD in answer["body"]
    gaps = (await bot.say("!owners gaps", sender=LEAD) or {})["body"]
    number = after["Build runners"].id
    assert f"#{number} Build runners: {OLD} answered no" in gaps
    assert f"!owners accept {number}" in gaps
    done = (await bot.say(f"!owners accept {number}", sender=LEAD) or {})["body"]
    assert done == f"✅ Owners of Build runners: {OLD} → nobody"
    async with bot.db.sessions() as session:
        doc = yaml.safe_load(await export_map(session))
    runners = next(a for a in doc["areas"] if a["name"] == "Build runners")
    signing = next(a for a in doc["areas"] if a["name"] == "Release signing")
    assert runners["owners"] == []
    assert str(signing["verified"]) == "2026-11-22" and signing["verified_by"] == OLD
    # 90 days on, Release signing is due again (and only it: Build runners has no owner)
    bot.clock.advance(timedelta(days=91))
    assert await reconfirm.send_due(bot.services, service) == 2  # + Printers, now stale


async def test_ownership_reconfirm_reply_with_a_name_proposes(bot: Harness) -> None:
    await reconfirm.send_due(bot.services, service_of(bot))
    await bot.mark_sent()
    asked = await rows(bot)
    # the same words in another room are not an answer
    other = await bot.say("it's @x:example.org now", sender=OLD, room_kind=RoomKind.DIRECT)
    assert other is None or not other["body"].startswith("Thanks")
    assert all(r.status == "pending" for r in (await rows(bot)).values())
    # a reply to the Build runners question, in the DM where it was asked
    msg, _ = await desk.Desk.say(
        bot, "it's @new-lead:example.org now", sender=OLD, room="dm",
        in_reply_to=f"$sent-{asked['Build runners'].id}",
    )  # fmt: skip
    (reply,) = await bot.from_event(msg.event_id)
    assert reply.content["body"].startswith("Thanks: recorded as a proposed owner of Build")
    proposed = [r for r in (await rows(bot)).values() if r.status == "proposed"]
    assert len(proposed) == 1 and proposed[0].proposed_owner == "@new-lead:example.org"
    assert proposed[0].area_name == "Build runners"
    done = (await bot.say(f"!owners accept {proposed[0].id}", sender=LEAD) or {})["body"]
    assert done.endswith(f"{OLD} → @new-lead:example.org")
    assert (await bot.say(f"!owners accept {proposed[0].id}", sender=ALICE) or {})["body"] != done
    # a DM without a pending question is not taken as an answer
    assert await bot.say("ask @x:example.org", sender=ALICE, room_kind=RoomKind.DIRECT) is not None


async def test_ownership_deactivated_owner_asked_at_once_not_dm(bot: Harness) -> None:
    service = service_of(bot)
    service.deactivated.add(FRESH)
    assert await reconfirm.send_due(bot.services, service) == 2  # not FRESH's (deactivated)
    body = (await bot.say("who owns printers?") or {})["body"]
    assert "is deactivated" in body


async def test_ownership_misses_recorded_digest_weekly_and_learn(bot: Harness) -> None:
    for question in ("who owns the vpn?", "who handles the VPN", "who owns build server?"):
        await bot.say(question, sender=ALICE)
    async with bot.db.sessions() as session:
        recorded = list(await session.scalars(select(Miss)))
    assert sorted(m.subject for m in recorded) == ["build server", "vpn", "vpn"]
    for m in recorded:  # subject words only: nothing about who asked
        assert "alice" not in f"{m.subject} {m.near} {m.kind}"
    service = service_of(bot)
    assert await misses.digest_due(bot.services, service, "!") is False  # starts the week
    bot.clock.advance(timedelta(days=6))
    assert await misses.digest_due(bot.services, service, "!") is False
    bot.clock.advance(timedelta(days=1, minutes=1))
    assert await misses.digest_due(bot.services, service, "!") is True
    assert await misses.digest_due(bot.services, service, "!") is False
    (digest,) = await bot.to_room(bot.triage)
    assert digest.startswith("Weekly digest: questions the map could not answer")
    lines = digest.splitlines()
    assert "'vpn' ×2" in lines[1] and 'add a new area "Vpn"' in lines[1]
    assert (
        "'build server' ×1" in lines[2] and 'add alias "build server" to Build runners' in lines[2]
    )
    on_demand = (await bot.say("!owners misses", sender=LEAD) or {})["body"]
    assert "'vpn' ×2" in on_demand
    assert "is for the security team" in (await bot.say("!owners misses") or {})["body"]
    number = int(lines[2].rsplit(" ", 1)[1])
    learned = (await bot.say(f"!owners learn {number}", sender=LEAD) or {})["body"]
    assert learned == '✅ New alias of Build runners: "build server"'
    answer = (await bot.say("who owns build server?") or {})["body"]
    assert answer.startswith("Build runners: owned by")
    assert "'build server'" not in (await bot.say("!owners misses", sender=LEAD) or {})["body"]


async def test_ownership_misses_never_keep_who_asked(bot: Harness) -> None:
    """The asker of an unanswered question is in no table, nor in the raw SQLite file."""
    asker = "@zed-privacy-probe:example.org"
    await bot.say("who owns the quantum teleporter?", sender=asker)
    await bot.say("I think my parrot escaped, who can help?", sender=asker)
    await bot.mark_sent()
    async with bot.db.sessions() as session:
        kinds = sorted(m.kind for m in await session.scalars(select(Miss)))
        assert kinds == ["fallback", "fallback"]
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                assert "zed-privacy-probe" not in repr(tuple(row)), table.name
    url = bot.db.url if isinstance(bot.db.url, str) else str(bot.db.url)
    if url.startswith("sqlite"):
        await bot.db.close()
        raw = Path(url.split(":///", 1)[1]).read_bytes()
        assert b"zed-privacy-probe" not in raw
