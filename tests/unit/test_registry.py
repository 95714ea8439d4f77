"""The command registry: declarations, sub-command lookup, argument parsing, generated help."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.commands.arguments import parse_args, usage_line
from bot.commands.context import CommandContext, Reply
from bot.commands.errors import UsageError
from bot.commands.registry import (
    IGNORED,
    Arg,
    ArgKind,
    Command,
    ForOthers,
    Permission,
    Registry,
    SubCommand,
)
from bot.ids import CaseRef
from bot.matrix.render import to_plain
from bot.storage import Database
from tests.support.desk import ALICE, LEAD, Desk

TEAM = {LEAD}


async def nothing(ctx: CommandContext) -> Reply:
    return Reply("")


def registry() -> Registry:
    reg = Registry(prefix="!", is_security_team=TEAM.__contains__)
    reg.add(Command("case", nothing, "Cases", usage="case <id>"))
    reg.subcommand("case", "open", summary="Open one", args=(Arg("id", ArgKind.CASE),))(nothing)
    reg.subcommand(
        "case", "purge", summary="Purge one", permission=Permission.SECURITY_TEAM, aliases=("rm",)
    )(nothing)
    return reg


def test_registry_finds_sub_commands_by_name_and_alias() -> None:
    command = registry().lookup("CASE")
    assert command is not None
    sub, rest = command.subcommand("Open T-1 now")
    assert isinstance(sub, SubCommand) and sub.name == "open" and rest == "T-1 now"
    sub, rest = command.subcommand("rm T-1")
    assert sub is not None and sub.name == "purge" and rest == "T-1"
    assert command.subcommand("T-1") == (None, "T-1")


def test_registry_refuses_a_sub_command_twice() -> None:
    reg = registry()
    with pytest.raises(ValueError, match="registered twice"):
        reg.subcommand("case", "RM", summary="again")(nothing)
    with pytest.raises(KeyError):
        reg.subcommand("nosuch", "x", summary="no parent")(nothing)


def test_registry_visible_sub_commands_per_asker() -> None:
    reg = registry()
    command = reg.lookup("case")
    assert command is not None
    assert [s.name for s in reg.visible_subcommands(command, ALICE)] == ["open"]
    assert [s.name for s in reg.visible_subcommands(command, LEAD)] == ["open", "purge"]


def test_registry_usage_lines_are_generated() -> None:
    command = registry().lookup("case")
    assert command is not None
    assert usage_line(command) == "case <id>"
    assert usage_line(command, command.subcommands[0]) == "case open <id>"
    bare = Command("x", nothing, "X", args=(Arg("n", ArgKind.NUMBER), Arg("rest", optional=True)))
    assert usage_line(bare) == "x <n> [rest]"


def test_registry_parse_args_reads_each_kind() -> None:
    spec = (
        Arg("case", ArgKind.CASE),
        Arg("user", ArgKind.USER),
        Arg("n", ArgKind.NUMBER),
        Arg("word"),
        Arg("text", ArgKind.TEXT, optional=True),
    )
    params = parse_args(spec, " t12  @bob:test #7 dns the rest  of it ", "!")
    assert params == {
        "case": CaseRef("T", 12),
        "user": "@bob:test",
        "n": 7,
        "word": "dns",
        "text": "the rest  of it",
    }
    assert parse_args(spec[3:], "dns", "!") == {"word": "dns", "text": None}


def _refusal(spec: tuple[Arg, ...], text: str, prefix: str, extra: str | None = None) -> str:
    """The UsageError's text as the person reads it (its Markdown rendered)."""
    with pytest.raises(UsageError) as refused:
        parse_args(spec, text, prefix, extra)
    return to_plain(refused.value.message)


def test_registry_parse_errors_are_friendly() -> None:
    day = Arg("day", ArgKind.NUMBER, missing="Which day? Try {prefix}tip preview 5")
    assert _refusal((day,), "", "?") == "Which day? Try ?tip preview 5"
    assert _refusal((day,), "x", "!") == "'x' is not a number."
    case = (Arg("id", ArgKind.CASE),)
    assert _refusal(case, "T-", "!") == "'T-' is not a case id like T-12 or INC-12."
    assert "didn't expect 'extra'" in _refusal((day,), "5 extra", "!")
    assert _refusal((Arg("who", ArgKind.USER),), " ", "!") == "Give the who."
    # the user's words are data: Markdown in them is shown, not rendered
    assert _refusal((day,), "*x*", "!") == "'*x*' is not a number."


def test_registry_parse_args_extra_words_choices_and_the_word_typed() -> None:
    page = Arg("page", ArgKind.NUMBER, optional=True, invalid="{word!r} is not a page.")
    assert _refusal((page,), "x", "!") == "'x' is not a page."
    extra = "Give one page, see {prefix}help."
    assert _refusal((page,), "2 3", "?", extra) == "Give one page, see ?help."
    assert parse_args((page,), "2 3 4", "!", IGNORED) == {"page": 2}
    scope = Arg("scope", choices=("open", "all"), invalid="Say open or all.")
    assert parse_args((scope,), "ALL", "!") == {"scope": "all"}
    assert _refusal((scope,), "some", "!") == "Say open or all."


async def _own_case(ctx: CommandContext) -> Reply | None:
    case = ctx.params["case"]
    return Reply(f"yours: {case}") if case.number == 1 else None


def test_registry_help_lists_a_team_command_that_answers_others() -> None:
    reg = registry()
    reg.command("audit", summary="Team only", permission=Permission.SECURITY_TEAM)(nothing)
    others = ForOthers(_own_case, (Arg("case", ArgKind.CASE),))
    reg.command("state", summary="Team; others: own", permission=Permission.SECURITY_TEAM,
                others=others)(nothing)  # fmt: skip
    assert [c.name for c in reg.visible_commands(ALICE)] == ["case", "state"]
    assert [c.name for c in reg.visible_commands(LEAD)] == ["case", "audit", "state"]


async def test_registry_a_team_command_answers_others_only_in_team_places(db: Database) -> None:
    desk = Desk(db)
    others = ForOthers(_own_case, (Arg("case", ArgKind.CASE),))
    team = Permission.SECURITY_TEAM
    desk.router.command("state", summary="x", permission=team, others=others)(nothing)
    try:
        assert await body_of(desk, "!state T-1", ALICE, "dm") == "yours: T-1"
        for text, room in [
            ("!state T-2", "dm"),
            ("!state T-1 x", "dm"),
            ("!state T-1", "helpdesk"),
        ]:
            body = await body_of(desk, text, ALICE, room)
            assert "security team" in body and "yours" not in body, (text, room)
    finally:
        await desk.close()


# --- the real !tip: team tools are sub-commands, hidden from everyone else -----------------


@pytest.fixture
async def desk(db: Database) -> AsyncIterator[Desk]:
    d = Desk(db)
    yield d
    await d.close()


async def body_of(desk: Desk, text: str, sender: str, room: str) -> str:
    msg, _ = await desk.say(text, sender=sender, room=room)
    [row] = await desk.from_event(msg.event_id)
    return str(row.content["body"])


@pytest.mark.parametrize("text", ["!help", "!help tip"])
async def test_registry_help_hides_team_sub_commands(desk: Desk, text: str) -> None:
    others = await body_of(desk, text, ALICE, "helpdesk")
    assert "tip progress" in others
    for team_only in ("preview", "skip", "unskip", "stats", "reload"):
        assert team_only not in others, team_only
    team = await body_of(desk, text, LEAD, "triage")
    assert "!tip preview <day> [campaign]" in team and "!tip reload" in team


async def test_registry_help_for_one_sub_command(desk: Desk) -> None:
    assert "!tip skip <date> [campaign]" in await body_of(desk, "!help tip skip", LEAD, "triage")
    assert "don't know" in await body_of(desk, "!help tip skip", ALICE, "helpdesk")
