"""Who may run a command or sub-command, where, and what a refused person is told."""

from __future__ import annotations

from bot.commands.context import CommandContext
from bot.commands.errors import PermissionDenied
from bot.commands.registry import TEAM_PLACES, Command, Permission, SubCommand


def team_places_text(prefix: str) -> str:
    """The one refusal for a team command outside the triage room and DMs."""
    return (
        "For the reporters' privacy, the security team's commands work only in the triage "
        "room or in a direct message with me. If you need the team's help, "
        f"{prefix}ticket reaches them privately."
    )


def check_permission(
    ctx: CommandContext, command: Command, sub: SubCommand | None, prefix: str
) -> None:
    """Refuse a team-only command (team places, team members) or sub-command (members).

    Raises:
        PermissionDenied: with the text the person is told.
    """
    team_only = command.permission is Permission.SECURITY_TEAM
    if team_only and ctx.message.room_kind not in TEAM_PLACES:
        # The same answer for everyone, team or not: nothing about cases goes public.
        raise PermissionDenied(team_places_text(prefix))
    if team_only and not ctx.is_security_team:
        raise PermissionDenied(
            f"Sorry, {prefix}{command.name} is for the security team. "
            f"If you need their help, {prefix}ticket reaches them privately."
        )
    if sub and sub.permission is Permission.SECURITY_TEAM and not ctx.is_security_team:
        default = f"Sorry, {{prefix}}{command.name} {sub.name} is for the security team."
        raise PermissionDenied((sub.refusal or default).replace("{prefix}", prefix))
