"""Commands every deployment has: ``!help`` (generated from the registry) and ``!ping``."""

from __future__ import annotations

from bot.commands.arguments import usage_line
from bot.commands.context import CommandContext, Reply
from bot.commands.registry import IGNORED, Arg
from bot.commands.router import Permission, Router
from bot.messaging import md

INTRO = "I'm the security helpdesk bot. There is no judgement here: ask anything."


def register(router: Router) -> None:
    """Add ``!help``, ``!ping`` and ``!whoami`` to ``router`` (``!privacy``: bot/privacy.py)."""

    @router.command(
        "help",
        summary="What I can do (or: help <command>)",
        usage="help [command]",
        aliases=("commands",),
        args=(Arg("command", optional=True), Arg("sub", optional=True)),
        extra=IGNORED,
    )
    async def help_(ctx: CommandContext) -> Reply:
        if ctx.params["command"] is None:
            return overview(router, ctx)
        words = [w for w in (ctx.params["command"], ctx.params["sub"]) if w]
        return command_help(router, ctx, words)

    @router.command("ping", summary="Check that I'm alive", usage="ping")
    async def ping(ctx: CommandContext) -> Reply:
        return Reply("pong")

    @router.command(
        "whoami", summary="What I know about you (your permissions)", permission=Permission.EVERYONE
    )
    async def whoami(ctx: CommandContext) -> Reply:
        role = "a member of the security team" if ctx.is_security_team else "a contributor"
        return Reply(f"You are {md.escape(ctx.sender)}, {role}.")


def _rows(router: Router, ctx: CommandContext, name: str) -> list[tuple[str, str]] | None:
    """Usage and summary of a command and the sub-commands the asker may run (None: hidden)."""
    p = router.prefix
    cmd = router.lookup(name)
    if cmd is None or cmd not in router.visible_commands(ctx.sender):
        return None
    rows = [(f"{p}{usage_line(cmd)}", cmd.summary)]
    for sub in router.visible_subcommands(cmd, ctx.sender):
        rows.append((f"{p}{usage_line(cmd, sub)}", sub.summary))
    return rows


def command_help(router: Router, ctx: CommandContext, argv: list[str]) -> Reply:
    """``!help <command> [sub-command]``: only what the asker may run."""
    p = router.prefix
    name = argv[0].removeprefix(p)
    rows = _rows(router, ctx, name)
    if rows is None:
        return Reply(f"I don't know {md.escape(repr(name))}. Send `{p}help` for the list.")
    if len(argv) > 1:
        wanted = f"{rows[0][0].split()[0]} {argv[1].lower()}"
        rows = [r for r in rows[1:] if r[0] == wanted or r[0].startswith(wanted + " ")]
        if not rows:
            return Reply(
                f"I don't know {md.escape(repr(' '.join(argv[:2])))}. "
                f"Send {md.code(f'{p}help {name}')}."
            )
    (usage, summary), more = rows[0], rows[1:]
    text = [md.code(usage), md.escape(summary)]
    if more:
        text += ["", *(_item(u, s) for u, s in more)]
    return Reply("\n".join(text))


def _item(usage: str, summary: str) -> str:
    return f"- {md.code(usage)} — {md.escape(summary)}"


def overview(router: Router, ctx: CommandContext) -> Reply:
    """``!help``: every command the asker may run, by group, with their sub-commands."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for cmd in router.visible_commands(ctx.sender):
        groups.setdefault(cmd.group, []).extend(_rows(router, ctx, cmd.name) or [])
    text = [md.escape(INTRO)]
    for group, rows in groups.items():
        text += ["", f"**{md.escape(group)}:**", "", *(_item(u, s) for u, s in rows)]
    if ctx.message.is_direct:
        text += ["", "In this DM you can skip the prefix."]
    return Reply("\n".join(text))
