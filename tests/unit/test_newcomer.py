"""What a newcomer writes to add a command: one small plugin, nothing else touched.

The plugin below declares ``!hello`` with a team-only sub-command (``!hello team <who>``),
replying in two Markdown paragraphs; it runs through the real router and dispatch on a
real database, and ``!help`` shows each person only what they may run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.commands.context import CommandContext, Reply
from bot.commands.registry import Arg, ArgKind, Permission
from bot.commands.router import Router
from bot.features.plugin import Plugin
from bot.storage import Database
from tests.support.desk import ALICE, LEAD, Desk

GREETING = "**Hello!** I'm the helpdesk bot.\n\nAsk me anything about security: no judgement."


# --- the newcomer's feature module (this is all of it) ----------------------------------


class HelloPlugin(Plugin):
    name = "hello"

    def register(self, router: Router) -> None:
        @router.command("hello", summary="Say hello", usage="hello", group="Hello")
        async def hello(ctx: CommandContext) -> Reply:
            return Reply(GREETING)

        who = Arg("who", ArgKind.USER, missing="Greet whom? For example: hello team @name:server")

        @router.subcommand(
            "hello",
            "team",
            summary="Greet someone on behalf of the team",
            args=(who,),
            permission=Permission.SECURITY_TEAM,
        )
        async def team(ctx: CommandContext) -> Reply:
            user = ctx.params["who"]
            return Reply(f"Hello {user}!\n\nThe security team says hi.", mentions=(user,))


# --- the tests ---------------------------------------------------------------------------


class HelloDesk(Desk):
    def plugins(self) -> list[Plugin]:
        return [HelloPlugin()]


@pytest.fixture
async def desk(db: Database) -> AsyncIterator[Desk]:
    d = HelloDesk(db)
    yield d
    await d.close()


async def answer(desk: Desk, body: str, sender: str, room: str = "helpdesk") -> str:
    msg, handled = await desk.say(body, sender=sender, room=room)
    assert handled
    rows = await desk.from_event(msg.event_id)
    assert len(rows) == 1, [r.content for r in rows]
    return str(rows[0].content["body"])


async def test_newcomer_command_replies_in_two_paragraphs(desk: Desk) -> None:
    msg, _ = await desk.say("!hello", sender=ALICE, room="helpdesk")
    [row] = await desk.from_event(msg.event_id)
    first, second = str(row.content["body"]).split("\n\n")
    assert "Hello!" in first and "**" not in first and "no judgement" in second
    html = row.content["formatted_body"]
    assert html.count("<p>") == 2 and "<strong>Hello!</strong>" in html


async def test_newcomer_team_sub_command_is_for_the_team(desk: Desk) -> None:
    refused = await answer(desk, "!hello team @bob:test", ALICE)
    assert refused == "Sorry, !hello team is for the security team."
    assert await answer(desk, "!hello team @bob:test", LEAD) == (
        "Hello @bob:test!\n\nThe security team says hi."
    )
    # Sub-commands match case-insensitively, like commands.
    assert "The security team says hi." in await answer(desk, "!hello TEAM @bob:test", LEAD)


async def test_newcomer_usage_errors_come_from_the_declaration(desk: Desk) -> None:
    missing = await answer(desk, "!hello team", LEAD)
    assert missing == "Greet whom? For example: hello team @name:server\nUsage: !hello team <who>"
    bad = await answer(desk, "!hello team bob", LEAD)
    assert bad.startswith("'bob' is not a Matrix user id like @name:example.org")
    assert bad.endswith("Usage: !hello team <who>")


async def test_newcomer_help_shows_each_asker_what_they_may_run(desk: Desk) -> None:
    everyone = await answer(desk, "!help", ALICE)
    assert "!hello — Say hello" in everyone and "hello team" not in everyone
    team = await answer(desk, "!help", LEAD, room="triage")
    assert "!hello team <who> — Greet someone on behalf of the team" in team
    assert "hello team" not in await answer(desk, "!help hello", ALICE)
    assert "!hello team <who>" in await answer(desk, "!help hello", LEAD, room="triage")
    assert "don't know" in await answer(desk, "!help hello team", ALICE)
