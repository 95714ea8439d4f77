"""Running a campaign live on a real Synapse with a controlled clock (issue 16).

The file is edited under a running bot, a broken edit is reported in the triage room,
a skip is undone, an alias room gets the post; ✅ counts honour a floor and go down when
a ✅ is taken back; a thread reply "stuck" opens a tagged ticket; marks expire.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.features.tickets.models import Ticket
from bot.features.tips.models import TipMark
from bot.storage import Database
from tests.support.botworld import BotWorld, InProcessBot, wait_joined
from tests.support.mxclient import MatrixUser, reply_to
from tests.tips.helpers import campaign_doc, utc, write_campaigns
from tests.tips.test_tips_integration import is_tip, settle, ticked, tips_settings

pytestmark = pytest.mark.integration


def bot_notice(world: BotWorld, room_id: str, text: str):
    def pred(e: dict) -> bool:
        return (
            e.get("sender") == world.bot_user_id
            and e.get("room_id") == room_id
            and text in e.get("content", {}).get("body", "")
        )

    return pred


async def ask(world: BotWorld, user: MatrixUser, room_id: str, text: str) -> str:
    question = await user.send(room_id, text)
    answer = await user.wait_for(lambda e: reply_to(e) == question, 30)
    assert answer is not None, f"no answer to {text!r}"
    return answer["content"]["body"]


async def count_marks(db_url: str) -> int:
    db = Database(db_url)
    try:
        async with db.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(TipMark)) or 0)
    finally:
        await db.close()


async def test_tips_live_edit_broken_edit_unskip_and_alias_room(
    world: BotWorld, tmp_path: Path
) -> None:
    extra_local = f"tips-extra-{uuid.uuid4().hex[:8]}"
    extra_alias = f"#{extra_local}:{world.hs.server_name}"
    extra = await world.lead.create_room(extra_local, invite=[world.bot_user_id])
    doc = campaign_doc(rooms=["helpdesk", extra_alias])
    tips_file = write_campaigns(tmp_path / "tips.yaml", doc)
    clock = ManualClock(utc(2026, 12, 2, 7, 59))
    alice = await world.user("alice")
    bot = InProcessBot(tips_settings(world, tips_file), clock=clock)
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        await wait_joined(world, extra)
        await ticked(bot)
        # Tomorrow's tip fixed under the running bot: the next post is the new text.
        doc["tips"][1]["title"] = "Fixed at 23:00 tonight"
        write_campaigns(tips_file, doc)
        await ticked(bot, 2)
        clock.set(utc(2026, 12, 2, 8, 0, 5))
        assert await alice.wait_for(is_tip(world, "Fixed at 23:00 tonight"), 30) is not None
        in_alias_room = await world.lead.wait_for(
            lambda e: e.get("room_id") == extra and "23:00 tonight" in str(e.get("content")), 30
        )
        assert in_alias_room is not None, "the alias room got no tip"
        # A broken edit: the last good version stays, triage is told once, with the line.
        broken = dict(doc, timezone="Europe/Berln")
        broken["tips"] = [dict(t) for t in doc["tips"]]
        broken["tips"][2]["title"] = "Broken version"
        write_campaigns(tips_file, broken)
        notice = await world.lead.wait_for(bot_notice(world, world.triage, "has 1 problem(s)"), 30)
        assert notice is not None, "triage was not told about the broken file"
        body = notice["content"]["body"]
        assert "Europe/Berln" in body and "(line 7)" in body and "last good version" in body
        await ticked(bot, 5)
        # Skip day 3, then undo it: day 3 is posted (from the last good version).
        reply = await ask(world, world.lead, world.triage, "!tip skip 2026-12-03")
        assert "no Campaign month tip on Thu 03 Dec 2026" in reply
        reply = await ask(world, world.lead, world.triage, "!tip unskip 2026-12-03")
        assert "will be posted" in reply
        clock.set(utc(2026, 12, 3, 8, 0, 5))
        assert await alice.wait_for(is_tip(world, "Tip 3 of month"), 30) is not None
        await settle(world, alice)
        await world.lead.sync(timeout_ms=0)
        notices = [e for e in world.lead.events if bot_notice(world, world.triage, "problem(s)")(e)]
        assert len(notices) == 1, "the same broken version was reported more than once"
        assert not any("Broken version" in str(e.get("content")) for e in alice.events)
    finally:
        await bot.stop()


async def redact(user: MatrixUser, room_id: str, event_id: str) -> None:
    path = f"/_matrix/client/v3/rooms/{room_id}/redact/{event_id}/{uuid.uuid4().hex}"
    await user.request("PUT", path, {})


async def test_tips_floor_removed_done_stuck_thread_and_expiry(
    world: BotWorld, tmp_path: Path
) -> None:
    tips_file = write_campaigns(tmp_path / "tips.yaml", campaign_doc())
    settings = tips_settings(world, tips_file, tips={"min_count": 2, "keep_days": 31})
    clock = ManualClock(utc(2026, 12, 2, 8, 0, 5))
    alice, bob = await world.user("alice"), await world.user("bob")
    bot = InProcessBot(settings, clock=clock, plaintext_dms=True)
    await bot.start()
    try:
        await wait_joined(world, world.helpdesk)
        tip = await alice.wait_for(is_tip(world, "Tip 2 of month"), 30)
        assert tip is not None
        await ticked(bot, 2)  # the sent event id is on the claim row

        async def stats_line() -> str:
            body = await ask(world, world.lead, world.triage, "!tip stats")
            (line,) = [ln for ln in body.splitlines() if "day 2" in ln]
            return line

        async def marks_become(n: int) -> None:
            for _ in range(300):
                if await count_marks(world.db_url) == n:
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"marks never became {n}")

        alice_done = await alice.react(world.helpdesk, tip["event_id"], "✅")
        await marks_become(1)
        assert "done fewer than 2" in await stats_line()
        await bob.react(world.helpdesk, tip["event_id"], "✅")
        await marks_become(2)
        assert "done 2," in await stats_line()
        await redact(alice, world.helpdesk, alice_done)  # alice takes her ✅ back
        await marks_become(1)
        line = await stats_line()
        assert "done fewer than 2" in line and alice.user_id not in line
        # A thread reply "stuck" on the tip opens a ticket tagged with campaign and day.
        relates = {
            "rel_type": "m.thread",
            "event_id": tip["event_id"],
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": tip["event_id"]},
        }
        stuck = await bob.send(world.helpdesk, "stuck", extra={"m.relates_to": relates})
        answer = await bob.wait_for(lambda e: reply_to(e) == stuck, 30)
        assert answer is not None
        body = answer["content"]["body"]
        assert "opened a no-judgement ticket about this tip" in body and "#day-2" in body
        assert answer["content"]["m.relates_to"].get("rel_type") == "m.thread"
        db = Database(world.db_url)
        try:
            async with db.sessions() as s:
                (ticket,) = list(await s.scalars(select(Ticket)))
        finally:
            await db.close()
        assert set(ticket.tags.split(",")) == {"tip", "month", "day-2"}
        assert "day 2 (Tip 2 of month): stuck" in ticket.text
        assert ticket.reporter_id == bob.user_id
        assert "stuck fewer than 2" in await stats_line()
        # keep_days after the campaign's end (5 Dec) every mark is gone.
        clock.set(utc(2027, 1, 5, 12))
        await ticked(bot, 2)
        assert await count_marks(world.db_url) == 2  # 31 days after: still kept
        clock.set(utc(2027, 1, 6, 12))
        await ticked(bot, 2)
        assert await count_marks(world.db_url) == 0
        assert "deleted 31 days after" in await ask(world, world.lead, world.triage, "!tip stats")
    finally:
        await bot.stop()
