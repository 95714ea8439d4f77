"""Commands every deployment has: ``!help`` (generated from the registry) and ``!ping``."""

from __future__ import annotations

from bot.commands.context import CommandContext, Reply, escape
from bot.commands.router import Permission, Router


def register(router: Router) -> None:
    """Add ``!help``, ``!ping``, ``!whoami``, ``!privacy`` and ``!forget me`` to ``router``."""
    from bot.privacy import privacy_registry

    p = router.prefix
    privacy_registry(router)  # features add their part (see bot/privacy.py)

    @router.command(
        "help",
        summary="What I can do (or: help <command>)",
        usage="help [command]",
        aliases=("commands",),
    )
    async def help_(ctx: CommandContext) -> Reply:
        if ctx.args:
            name = ctx.args.split()[0].removeprefix(p)
            cmd = router.lookup(name)
            if cmd is None or cmd not in router.visible_commands(ctx.sender):
                return Reply(f"I don't know {name!r}. Send {p}help for the list.")
            usage = f"{p}{cmd.usage or cmd.name}"
            return Reply(
                f"{usage}\n{cmd.summary}", f"<code>{escape(usage)}</code><br/>{escape(cmd.summary)}"
            )
        groups: dict[str, list[tuple[str, str]]] = {}
        for cmd in router.visible_commands(ctx.sender):
            groups.setdefault(cmd.group, []).append((f"{p}{cmd.usage or cmd.name}", cmd.summary))
        plain = ["I'm the security helpdesk bot. There is no judgement here: ask anything.", ""]
        rich = ["<p>I'm the security helpdesk bot. There is no judgement here: ask anything.</p>"]
        for group, rows in groups.items():
            plain.append(f"{group}:")
            plain += [f"  {usage} — {summary}" for usage, summary in rows]
            rich.append(f"<p><strong>{escape(group)}</strong></p><ul>")
            rich += [f"<li><code>{escape(u)}</code> — {escape(s)}</li>" for u, s in rows]
            rich.append("</ul>")
        if ctx.message.is_direct:
            plain.append("In this DM you can skip the prefix.")
            rich.append("<p>In this DM you can skip the prefix.</p>")
        return Reply("\n".join(plain), "".join(rich))

    @router.command("ping", summary="Check that I'm alive", usage="ping")
    async def ping(ctx: CommandContext) -> Reply:
        return Reply("pong")

    @router.command(
        "whoami", summary="What I know about you (your permissions)", permission=Permission.EVERYONE
    )
    async def whoami(ctx: CommandContext) -> Reply:
        role = "a member of the security team" if ctx.is_security_team else "a contributor"
        return Reply(f"You are {ctx.sender}, {role}.")
