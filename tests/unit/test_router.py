"""The router end to end over a real database: what it queues in the outbox is what is sent.

Runs once on SQLite and once on PostgreSQL (the ``db`` fixture).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.commands.context import CommandContext, IncomingMessage, Outbound, Reply
from bot.commands.errors import UsageError, UserError
from bot.commands.router import Permission
from bot.messaging import md
from bot.outbox import txn_id_for
from bot.storage import Database
from bot.storage.models import KeyValue, OutboxMessage
from tests.support import desk as support
from tests.support.desk import ALICE, HELPDESK, LEAD, MEMBER, TRIAGE, reply_target

# LEAD is in the security team by config, MEMBER by being in the triage room, ALICE is not.
BOT = "@helpdesk:test"
DM = "!dm-alice:test"


class Desk(support.Desk):
    """The real router with every feature, plus a few test-only commands."""

    bot_user = BOT
    triage_members = (BOT, LEAD, MEMBER)

    def dm_of(self, user: str) -> str:
        return DM  # every DM is Alice's

    def message(self, body: str, *, room: str = "helpdesk", **kwargs: Any) -> IncomingMessage:
        return super().message(body, room=room, **kwargs)

    async def only_reply(self, msg: IncomingMessage) -> OutboxMessage:
        rows = await self.from_event(msg.event_id)
        assert len(rows) == 1, [r.content for r in rows]
        return rows[0]


@pytest.fixture
async def desk(db: Database) -> AsyncIterator[Desk]:
    d = Desk(db)
    yield d
    await d.close()


# --- replies -----------------------------------------------------------------------------


async def test_router_ping_queues_one_notice_reply(desk: Desk) -> None:
    msg, handled = await desk.say("!ping")
    assert handled is True
    row = await desk.only_reply(msg)
    assert row.room_id == HELPDESK
    assert row.dm_user_id is None
    assert row.event_type == "m.room.message"
    assert row.txn_id == txn_id_for(msg.event_id, 0)
    assert row.sent_at is None
    content = row.content
    assert content["msgtype"] == "m.notice"
    assert content["body"] == "pong"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == "pong"
    assert reply_target(row) == msg.event_id
    assert await desk.handled(msg.event_id)


async def test_router_same_event_twice_replies_once(desk: Desk) -> None:
    msg = desk.message("!ping")
    assert await desk.router.handle(msg) is True
    assert await desk.router.handle(msg) is False
    assert len(await desk.rows()) == 1


async def test_router_unknown_command_in_room_is_ignored(desk: Desk) -> None:
    msg, handled = await desk.say("!foo bar")
    assert handled is True
    assert await desk.rows() == []
    # Marked handled all the same, so a replay does not reconsider it.
    assert await desk.handled(msg.event_id)


async def test_router_chatter_in_room_is_ignored(desk: Desk) -> None:
    await desk.say("good morning everyone, ping me later")
    assert await desk.rows() == []


async def test_router_unknown_command_in_dm_gets_help_hint(desk: Desk) -> None:
    msg, _ = await desk.say("!foo", room="dm")
    row = await desk.only_reply(msg)
    assert row.room_id == DM
    assert "foo" in row.content["body"]
    assert "!help" in row.content["body"]


@pytest.mark.parametrize(
    "body", ["helpdesk: ping", "@helpdesk:test: ping", "Security Helpdesk, ping"]
)
async def test_router_mention_routes_without_prefix(desk: Desk, body: str) -> None:
    msg, _ = await desk.say(body)
    assert (await desk.only_reply(msg)).content["body"] == "pong"


async def test_router_m_mentions_routes_without_prefix(desk: Desk) -> None:
    msg, _ = await desk.say("ping", mentions_bot=True)
    assert (await desk.only_reply(msg)).content["body"] == "pong"


async def test_router_plain_word_in_room_is_not_a_command(desk: Desk) -> None:
    await desk.say("ping")
    assert await desk.rows() == []


async def test_router_dm_without_prefix_routes(desk: Desk) -> None:
    msg, _ = await desk.say("ping", room="dm")
    assert (await desk.only_reply(msg)).content["body"] == "pong"


# --- help and permissions ------------------------------------------------------------------


def add_team_command(desk: Desk) -> None:
    @desk.router.command(
        "zzsecret", summary="Team-only test command", permission=Permission.SECURITY_TEAM
    )
    async def secret(ctx: CommandContext) -> Reply:
        return Reply("team stuff")


@pytest.mark.parametrize(("sender", "sees"), [(LEAD, True), (MEMBER, True), (ALICE, False)])
async def test_router_help_lists_only_permitted_commands(
    desk: Desk, sender: str, sees: bool
) -> None:
    add_team_command(desk)
    msg, _ = await desk.say("!help", sender=sender)
    content = (await desk.only_reply(msg)).content
    assert "!ping" in content["body"]
    assert ("zzsecret" in content["body"]) is sees
    assert ("zzsecret" in content["formatted_body"]) is sees


async def test_router_team_command_refused_for_others(desk: Desk) -> None:
    add_team_command(desk)
    msg, _ = await desk.say("!zzsecret", sender=ALICE, room="dm")
    body = (await desk.only_reply(msg)).content["body"]
    assert "security team" in body
    assert "team stuff" not in body

    msg, _ = await desk.say("!zzsecret", sender=MEMBER, room="dm")
    assert (await desk.only_reply(msg)).content["body"] == "team stuff"
    # Team commands work only where the team is: never in the public room.
    msg, _ = await desk.say("!zzsecret", sender=MEMBER, room="helpdesk")
    assert (await desk.only_reply(msg)).content["body"] == desk.router.team_places_text()


async def test_router_help_for_hidden_command_is_unknown(desk: Desk) -> None:
    add_team_command(desk)
    msg, _ = await desk.say("!help zzsecret", sender=ALICE)
    body = (await desk.only_reply(msg)).content["body"]
    assert "don't know" in body
    assert "Team-only" not in body


# --- the error boundary --------------------------------------------------------------------


async def test_router_user_error_text_is_the_reply(desk: Desk) -> None:
    @desk.router.command("zzfail", summary="fails", usage="zzfail <thing>")
    async def fail(ctx: CommandContext) -> Reply:
        raise UserError("No such thing, sorry.")

    msg, _ = await desk.say("!zzfail x")
    assert (await desk.only_reply(msg)).content["body"] == "No such thing, sorry."


async def test_router_usage_error_appends_usage(desk: Desk) -> None:
    @desk.router.command("zzuse", summary="needs args", usage="zzuse <thing>")
    async def use(ctx: CommandContext) -> Reply:
        raise UsageError("Which thing?")

    msg, _ = await desk.say("!zzuse")
    body = (await desk.only_reply(msg)).content["body"]
    assert body.startswith("Which thing?")
    assert "Usage: !zzuse <thing>" in body
    # The usage line's angle brackets are escaped in the HTML twin.
    assert "&lt;thing&gt;" in (await desk.only_reply(msg)).content["formatted_body"]


async def test_router_unexpected_error_gives_reference_not_details(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    @desk.router.command("zzboom", summary="explodes")
    async def boom(ctx: CommandContext) -> Reply:
        # Work done before the failure must be rolled back with it.
        ctx.session.add(KeyValue(key="zzboom", value="half-done"))
        await ctx.session.flush()
        raise RuntimeError("internal detail: db password is hunter2")

    caplog.set_level(logging.ERROR)
    msg, handled = await desk.say("!zzboom")
    assert handled is True
    content = (await desk.only_reply(msg)).content
    match = re.search(r"something went wrong.*\(ref: ([0-9a-f]+)\)", content["body"])
    assert match, content["body"]
    ref = match.group(1)
    for text in (content["body"], content["formatted_body"]):
        assert "hunter2" not in text
        assert "internal detail" not in text
        assert "RuntimeError" not in text
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)
    async with desk.db.sessions() as session:
        assert await session.get(KeyValue, "zzboom") is None
    assert await desk.handled(msg.event_id)


async def test_router_too_long_message_gets_friendly_reply(db: Database) -> None:
    desk = Desk(db, bot={"max_message_length": 100})
    msg, _ = await desk.say("!ping " + "x" * 200)
    body = (await desk.only_reply(msg)).content["body"]
    assert "too long" in body
    assert "100" in body
    # Long chatter that is not for the bot stays unanswered.
    await desk.say("y" * 200)
    assert len(await desk.rows()) == 1


# --- content of replies --------------------------------------------------------------------


async def test_router_user_html_is_escaped_in_help(desk: Desk) -> None:
    msg, _ = await desk.say("!help <b>x</b>")
    content = (await desk.only_reply(msg)).content
    assert "<b>" not in content["formatted_body"]
    assert "&lt;b&gt;" in content["formatted_body"]


async def test_router_echo_with_escape_keeps_html_inert(desk: Desk) -> None:
    @desk.router.command("zzecho", summary="echo")
    async def echo(ctx: CommandContext) -> Reply:
        return Reply(f"*{md.escape(ctx.args)}*")

    msg, _ = await desk.say('!zzecho <img src=x onerror="alert(1)">')
    content = (await desk.only_reply(msg)).content
    assert content["body"] == '<img src=x onerror="alert(1)">'
    assert "<img" not in content["formatted_body"]
    assert content["formatted_body"].startswith("<em>&lt;img")


async def test_router_reaction_reply_queues_annotation(desk: Desk) -> None:
    @desk.router.command("zzack", summary="ack")
    async def ack(ctx: CommandContext) -> Reply:
        return Reply.reaction()

    msg, _ = await desk.say("!zzack")
    row = await desk.only_reply(msg)
    assert row.event_type == "m.reaction"
    assert row.room_id == HELPDESK
    assert row.content == {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": msg.event_id, "key": "✅"}
    }


async def test_router_thread_reply_stays_in_thread(desk: Desk) -> None:
    msg, _ = await desk.say("!ping", thread_root="$root:test")
    relates = (await desk.only_reply(msg)).content["m.relates_to"]
    assert relates["rel_type"] == "m.thread"
    assert relates["event_id"] == "$root:test"
    assert relates["m.in_reply_to"] == {"event_id": msg.event_id}
    assert relates["is_falling_back"] is False


async def test_router_outbound_messages_follow_the_reply(desk: Desk) -> None:
    @desk.router.command("zztell", summary="tell")
    async def tell(ctx: CommandContext) -> Reply:
        ctx.send(Outbound("psst", dm_user_id=LEAD))
        ctx.send(Outbound("heads up", room_id=TRIAGE))
        return Reply("told them")

    msg, _ = await desk.say("!zztell")
    rows = [r for r in await desk.rows() if r.source_event_id == msg.event_id]
    assert [r.content["body"] for r in rows] == ["told them", "psst", "heads up"]
    assert [r.txn_id for r in rows] == [txn_id_for(msg.event_id, i) for i in range(3)]
    assert rows[1].dm_user_id == LEAD and rows[1].room_id is None
    assert rows[2].room_id == TRIAGE


# --- the database failing --------------------------------------------------------------------


async def test_router_database_down_raises(db: Database) -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/x")
    try:
        desk = Desk(db)
        desk.services.db = down
        desk.services.outbox.db = down
        with pytest.raises((OSError, DBAPIError)):
            await desk.router.handle(desk.message("!ping"))
    finally:
        await down.close()
    assert await Desk(db).rows() == []


async def test_router_database_error_mid_handler_records_nothing(desk: Desk) -> None:
    failures = [OperationalError("SELECT 1", {}, ConnectionResetError("connection lost"))]

    @desk.router.command("zzflaky", summary="db goes away once")
    async def flaky(ctx: CommandContext) -> Reply:
        ctx.session.add(KeyValue(key="zzflaky", value="done"))
        await ctx.session.flush()
        if failures:
            raise failures.pop()
        return Reply("recovered")

    msg = desk.message("!zzflaky")
    with pytest.raises(OperationalError):
        await desk.router.handle(msg)
    assert not await desk.handled(msg.event_id)
    assert await desk.rows() == []
    async with desk.db.sessions() as session:
        assert await session.get(KeyValue, "zzflaky") is None

    # The sync loop retries the same event once the database is back.
    assert await desk.router.handle(msg) is True
    assert (await desk.only_reply(msg)).content["body"] == "recovered"


async def test_router_broken_matcher_does_not_stall_handling(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    """A matcher that raises is logged; the event still counts as handled (no endless retry)."""

    def broken(text: str) -> str | None:
        raise RuntimeError("matcher bug")

    async def never(ctx: CommandContext) -> Reply:
        raise AssertionError("not reached")

    desk.router.natural("broken", broken, never)
    msg, handled = await desk.say("anything at all", room="helpdesk")
    assert handled
    assert await desk.rows() == []
    assert any("routing event" in r.getMessage() for r in caplog.records)
    # The same event again is a duplicate, not a second attempt.
    assert await desk.router.handle(msg) is False
