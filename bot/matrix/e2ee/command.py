"""``!crypto``: the encryption self-check, for the security team in the triage room."""

from __future__ import annotations

from collections.abc import Callable

from bot.commands.context import CommandContext, Reply, RoomKind
from bot.commands.errors import UserError
from bot.commands.router import Permission, Router
from bot.matrix.e2ee import E2EE
from bot.messaging import md


def register(router: Router, e2ee: E2EE, triage_members: Callable[[], set[str]]) -> None:
    """Add ``!crypto`` to ``router``."""

    @router.command(
        "crypto",
        summary="Encryption self-check: the bot's identity, key backup, unsigned devices",
        usage="crypto",
        permission=Permission.SECURITY_TEAM,
        group="Security team",
    )
    async def crypto(ctx: CommandContext) -> Reply:
        if ctx.message.room_kind is not RoomKind.TRIAGE:
            raise UserError(f"Run `{router.prefix}crypto` in the triage room.")
        if not e2ee.enabled:
            return Reply("Encryption is off (matrix.encryption: false).")
        report = await e2ee.report(triage_members())
        return Reply(md.code_block(report.render()))  # one fact a line, as written
