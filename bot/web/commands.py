"""``!dashboard`` and ``!handbook``: the bot DMs a one-time sign-in link to the web pages."""

from __future__ import annotations

import logging

from bot.commands.context import CommandContext, Outbound, Reply, RoomKind
from bot.commands.errors import UserError
from bot.commands.router import Permission, Router
from bot.messaging import md
from bot.web import auth

log = logging.getLogger(__name__)
GROUP = "Web"


def helpdesk_member(ctx: CommandContext, user_id: str) -> bool:
    """Whether ``user_id`` is in the helpdesk room (or the security team)."""
    services = ctx.services
    if services.is_security_team(user_id):
        return True
    room = services.rooms.helpdesk
    return bool(room) and user_id in services.directory.joined_members(room)


async def _send_link(ctx: CommandContext, scope: str, what: str) -> Reply:
    web = ctx.services.settings.web
    if not web.enabled:
        raise UserError("The web pages are not enabled here (web.enabled is false).")
    try:
        token = await auth.issue_link(
            ctx.session,
            user_id=ctx.sender,
            scope=scope,
            now=ctx.now,
            per_10_minutes=web.links_per_10_minutes,
        )
    except auth.RateLimited:
        raise UserError(
            "You asked for several sign-in links in the last 10 minutes; use one of those, "
            "or try again in a few minutes."
        ) from None
    url = f"{web.base_url}/login/{token}"
    p = ctx.services.settings.bot.command_prefix
    text = (
        f"Your sign-in link for {what} (valid 10 minutes, works once):\n{_link(url)}\n"
        f"Do not share it. `{p}dashboard logout` signs you out everywhere."
    )
    log.info("sign-in link issued (scope %s)", scope)
    if ctx.message.is_direct:
        return Reply(text)
    ctx.send(Outbound(text, dm_user_id=ctx.sender))
    return Reply("I sent you a sign-in link by direct message.")


def register(router: Router) -> None:
    """Add ``!dashboard`` and ``!handbook`` to ``router``."""

    @router.command(
        "dashboard",
        summary="Open the triage board in a browser (the link comes by DM); logout ends it",
        usage="dashboard [logout]",
        permission=Permission.SECURITY_TEAM,
        group=GROUP,
    )
    async def dashboard(ctx: CommandContext) -> Reply:
        if ctx.argv[:1] == ["logout"]:
            ended = await auth.revoke_sessions(ctx.session, user_id=ctx.sender, now=ctx.now)
            return Reply(f"Signed out of the web board ({ended} session(s) ended).")
        if ctx.message.room_kind not in (RoomKind.TRIAGE, RoomKind.DIRECT):
            raise UserError("Ask for the board in the triage room or in a direct message.")
        return await _send_link(ctx, "team", "the triage board")

    @router.command(
        "handbook",
        summary="Open the handbook (who to contact about what) in a browser",
        usage="handbook",
        group=GROUP,
    )
    async def handbook(ctx: CommandContext) -> Reply:
        web = ctx.services.settings.web
        if web.handbook == "off" or not web.enabled:
            raise UserError('The handbook page is not enabled here; ask me "who owns X?".')
        if web.handbook == "public":
            return Reply(f"The handbook: {_link(f'{web.base_url}/handbook')}")
        if not helpdesk_member(ctx, ctx.sender):
            raise UserError("The handbook page is for members of the helpdesk room.")
        scope = "team" if ctx.is_security_team else "handbook"
        return await _send_link(ctx, scope, "the handbook")


def _link(url: str) -> str:
    """``url`` as a Markdown link (its text shown as written in the plain body)."""
    return f"[{md.escape(url)}](<{url}>)"
