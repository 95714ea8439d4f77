"""The security team's edits of the responsibilities map: ``!owner <verb> ...``.

Edit syntax (area names may contain spaces):

* ``!owner set <area> @user...`` / ``!owner backup <area> @user...``: the area is
  everything before the first user id (or mention pill).
* ``!owner alias|describe|contact <area> <text>``: put the area in quotes
  (``"Release signing"``), or give it bare: the longest leading run of words that is a
  known name or alias is the area, the rest is the text.
* ``!owner verify <area>``, ``!owner remove <area>`` (then ``--confirm``): the rest is
  the area.

Areas are found by exact name or alias only: an edit never guesses.
"""

from __future__ import annotations

import html
import re

from bot.commands.context import CommandContext, Reply
from bot.commands.errors import UsageError, UserError
from bot.commands.registry import Handler
from bot.features.ownership.matching import name_key
from bot.features.ownership.service import OwnershipService
from bot.ids import is_user_id
from bot.messaging import md

# The team's edits of the map: ``!owner <verb> ...`` (summary, argument shape).
EDITS = {
    "set": ("Set the owners of an area", "<area> @user:server [@user...]"),
    "backup": ("Set the backups of an area", "<area> @user:server [@user...]"),
    "alias": ("Add another name for an area", "<area> <alias>"),
    "describe": ("Describe what an area covers", "<area> <text>"),
    "contact": ("Say how to reach an area's owners", "<area> <text>"),
    "verify": ("Mark an area as checked today", "<area>"),
    "remove": ("Delete an area from the map", "<area>"),
}
EDIT_REFUSAL = (
    "Sorry, changing the responsibilities map is for the security team. "
    "If something in it looks wrong, tell them with {prefix}ticket. "
    'To ask who owns something: {prefix}owner <thing>, or just ask "who owns X?"'
)
PILL = re.compile(r'<a\s+href="https://matrix\.to/#/(@[^"/?]+)[^"]*"[^>]*>.*?</a>', re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_QUOTED = re.compile(r'^\s*["“”\'](?P<area>[^"“”\']+)["“”\']\s*(?P<rest>.*)$', re.S)
CONFIRM = "--confirm"


def _args_with_pills(ctx: CommandContext) -> str:
    """The sub-command's arguments, with mention pills (shown by name) turned into user ids."""
    formatted = ctx.message.formatted_body
    if not formatted or not PILL.search(formatted) or not ctx.subcommand:
        return ctx.args
    text = html.unescape(_TAG.sub("", PILL.sub(lambda m: f" {m[1]} ", formatted)))
    text = " ".join(text.split())
    # Start after the sub-verb after "owner" (a pill addressing the bot may come first).
    found = re.search(rf"\bowner\s+{re.escape(ctx.subcommand)}\b", text, re.IGNORECASE)
    return text[found.end() :].strip() if found else ctx.args


def _strip_quotes(text: str) -> str:
    found = _QUOTED.match(text)
    return found["area"].strip() if found and not found["rest"] else text.strip()


def split_area(rest: str, known: set[str]) -> tuple[str, str]:
    """Split ``<area> <text>``: quoted area, else the longest known leading name."""
    found = _QUOTED.match(rest)
    if found:
        return found["area"].strip(), found["rest"].strip()
    parts = rest.split()
    for n in range(len(parts) - 1, 0, -1):
        if name_key(" ".join(parts[:n])) in known:
            return " ".join(parts[:n]), " ".join(parts[n:])
    raise UserError(
        "I can't tell where the area's name ends: put it in quotes, "
        'e.g. "Release signing" followed by the text.'
    )


class MapEdits:
    """The team's ``!owner <verb> ...`` edits of the responsibilities map, one per verb."""

    def __init__(self, service: OwnershipService):
        self.service = service

    def handler(self, verb: str) -> Handler:
        """The handler of ``!owner <verb>`` (its argument text with pills as user ids)."""
        edit = {"set": self.people, "backup": self.people, "verify": self.verify}.get(
            verb, self.remove if verb == "remove" else self.text
        )

        async def run(ctx: CommandContext) -> Reply:
            return await edit(ctx, verb, _args_with_pills(ctx))

        return run

    async def people(self, ctx: CommandContext, verb: str, rest: str) -> Reply:
        """``!owner set|backup <area> @user...``."""
        p = ctx.services.settings.bot.command_prefix
        words = rest.split()
        first = next((i for i, w in enumerate(words) if w.startswith("@")), None)
        if first is None or first == 0:
            raise UsageError(md.escape(f"Usage: {p}owner {verb} <area> @user:server [@user...]"))
        users = words[first:]
        bad = [u for u in users if not is_user_id(u)]
        if bad:
            raise UserError(
                f"{md.escape(repr(bad[0]))} is not a Matrix user id like @name:example.org."
            )
        area_ref = _strip_quotes(" ".join(words[:first]))
        column = "owners" if verb == "set" else "backups"
        area, old = await self.service.edit(
            ctx.session, area_ref, column, users, actor=ctx.sender, now=ctx.now
        )
        label = "Owners" if verb == "set" else "Backups"
        return done(f"{label} of {area.name}: {', '.join(old) or 'none'} → {', '.join(users)}")

    async def verify(self, ctx: CommandContext, verb: str, rest: str) -> Reply:
        """``!owner verify <area>``: checked today."""
        # The map keeps dates (as the YAML file does), so an export round-trips.
        today = ctx.now.replace(hour=0, minute=0, second=0, microsecond=0)
        area, _ = await self.service.edit(
            ctx.session, _strip_quotes(rest), "last_verified", today, actor=ctx.sender, now=ctx.now
        )
        area.verified_by = ctx.sender
        return done(f"{area.name} marked as verified today.")

    async def remove(self, ctx: CommandContext, verb: str, rest: str) -> Reply:
        """``!owner remove <area> [--confirm]``."""
        p = ctx.services.settings.bot.command_prefix
        confirmed = rest.endswith(CONFIRM)
        ref = _strip_quotes(rest.removesuffix(CONFIRM).strip())
        name = await self.service.resolve_name(ctx.session, ref)
        if name is None:
            raise UserError(f"There is no area called {md.escape(repr(ref))}.")
        if not confirmed:
            cmd = md.code(f'{p}owner remove "{name}" {CONFIRM}')
            return Reply(
                f"This deletes the area **{md.escape(name)}** from the map. "
                f"To go ahead, send: {cmd}",
            )
        await self.service.remove(ctx.session, ref, actor=ctx.sender, now=ctx.now)
        return done(f"Removed {name} from the map.")

    async def text(self, ctx: CommandContext, verb: str, rest: str) -> Reply:
        """``!owner alias|describe|contact <area> <text>``."""
        p = ctx.services.settings.bot.command_prefix
        area_ref, text = split_area(rest, await self.service.known_keys(ctx.session))
        if not text:
            raise UsageError(md.escape(f"Usage: {p}owner {verb} <area> <text>"))
        column = {"alias": "aliases", "describe": "description", "contact": "contact"}[verb]
        area, _ = await self.service.edit(
            ctx.session, area_ref, column, text, actor=ctx.sender, now=ctx.now
        )
        what = {"aliases": "New alias", "description": "Description", "contact": "Contact"}
        return done(f"{what[column]} of {area.name} saved: {text}")


def done(text: str) -> Reply:
    """``✅ text``; ``text`` is shown as written (area names and people's words in it)."""
    return Reply(f"✅ {md.escape(text)}")
