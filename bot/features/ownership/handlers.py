"""``!owner`` (ask, and for the security team: edit) and ``!owners`` (list, team, gaps).

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
from functools import partial

from bot.commands.context import CommandContext, Reply, RoomKind, escape
from bot.commands.errors import UsageError, UserError
from bot.commands.registry import Arg, ArgKind
from bot.commands.router import Permission, Router
from bot.features.ownership import asking, misses, reconfirm, replies
from bot.features.ownership.matching import name_key
from bot.features.ownership.phrasing import match_owner_question, match_situation
from bot.features.ownership.service import OwnershipService
from bot.ids import is_number, is_user_id

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
_PILL = re.compile(r'<a\s+href="https://matrix\.to/#/(@[^"/?]+)[^"]*"[^>]*>.*?</a>', re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_QUOTED = re.compile(r'^\s*["“”\'](?P<area>[^"“”\']+)["“”\']\s*(?P<rest>.*)$', re.S)
CONFIRM = "--confirm"


def _args_with_pills(ctx: CommandContext) -> str:
    """The sub-command's arguments, with mention pills (shown by name) turned into user ids."""
    formatted = ctx.message.formatted_body
    if not formatted or not _PILL.search(formatted) or not ctx.subcommand:
        return ctx.args
    text = html.unescape(_TAG.sub("", _PILL.sub(lambda m: f" {m[1]} ", formatted)))
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


def register(router: Router, service: OwnershipService) -> None:
    p = router.prefix
    settings = service.settings

    async def ask(ctx: CommandContext, question: asking.Question) -> Reply:
        result, snap = await service.lookup(ctx.session, question)
        thing = question.thing
        if result.kind == "answer" and result.best is not None:
            view = result.best.area
            stale = service.stale_reason(view, ctx.now)
            on_call = service.on_call(ctx.now) if (view.security or stale) else []
            return replies.answer(
                view, snap, ctx.now, settings.fallback_contact,
                why=result.best.why, stale=stale, on_call=on_call,
            )  # fmt: skip
        await service.record_miss(ctx.session, result, ctx.now)
        if result.kind == "ambiguous":
            return replies.ambiguous(thing, result, p)
        return replies.fallback(thing, result, settings.fallback_contact, p)

    async def situation(ctx: CommandContext) -> Reply:
        return await ask(ctx, asking.Question(ctx.args, True))

    async def natural(ctx: CommandContext) -> Reply:
        return await ask(ctx, asking.Question(ctx.args, False))

    # Situations first: "someone leaked a key, who handles that?" is not a look-up of "that".
    router.natural("owner-situation", match_situation, situation)
    router.natural("owner-question", match_owner_question, natural)

    @router.command(
        "owner",
        summary="Who owns something, and how to reach them",
        usage="owner <thing>",
        group="Responsibilities",
    )
    async def owner(ctx: CommandContext) -> Reply:
        if not ctx.args:
            raise UsageError("What are you looking for the owner of?")
        return await ask(ctx, asking.of_command(ctx.args))

    async def edit(ctx: CommandContext) -> Reply:
        return await _edit(ctx, ctx.subcommand, _args_with_pills(ctx))

    for verb, (summary, shape) in EDITS.items():
        missing = "Which area?" if shape == "<area>" else "Which area, and what should it say?"
        router.subcommand(
            "owner",
            verb,
            summary=summary,
            args=(Arg("text", ArgKind.TEXT, missing=missing, shape=shape),),
            permission=Permission.SECURITY_TEAM,
            refusal=EDIT_REFUSAL,
        )(edit)

    async def _edit(ctx: CommandContext, verb: str, rest: str) -> Reply:
        who, now, s = ctx.sender, ctx.now, ctx.session
        if verb in ("set", "backup"):
            words = rest.split()
            first = next((i for i, w in enumerate(words) if w.startswith("@")), None)
            if first is None or first == 0:
                raise UsageError(f"Usage: {p}owner {verb} <area> @user:server [@user...]")
            users = words[first:]
            bad = [u for u in users if not is_user_id(u)]
            if bad:
                raise UserError(f"{bad[0]!r} is not a Matrix user id like @name:example.org.")
            area_ref = _strip_quotes(" ".join(words[:first]))
            column = "owners" if verb == "set" else "backups"
            area, old = await service.edit(s, area_ref, column, users, actor=who, now=now)
            label = "Owners" if verb == "set" else "Backups"
            return _done(f"{label} of {area.name}: {', '.join(old) or 'none'} → {', '.join(users)}")
        if verb == "verify":
            # The map keeps dates (as the YAML file does), so an export round-trips.
            today = now.replace(hour=0, minute=0, second=0, microsecond=0)
            area, _ = await service.edit(
                s, _strip_quotes(rest), "last_verified", today, actor=who, now=now
            )
            area.verified_by = who
            return _done(f"{area.name} marked as verified today.")
        if verb == "remove":
            confirmed = rest.endswith(CONFIRM)
            ref = _strip_quotes(rest.removesuffix(CONFIRM).strip())
            name = await service.resolve_name(s, ref)
            if name is None:
                raise UserError(f"There is no area called {ref!r}.")
            if not confirmed:
                cmd = f'{p}owner remove "{name}" {CONFIRM}'
                return Reply(
                    f"This deletes the area {name!r} from the map. To go ahead, send: {cmd}",
                    f"This deletes the area <strong>{escape(name)}</strong> from the map. "
                    f"To go ahead, send: <code>{escape(cmd)}</code>",
                )
            await service.remove(s, ref, actor=who, now=now)
            return _done(f"Removed {name} from the map.")
        area_ref, text = split_area(rest, await service.known_keys(s))
        if not text:
            raise UsageError(f"Usage: {p}owner {verb} <area> <text>")
        column = {"alias": "aliases", "describe": "description", "contact": "contact"}[verb]
        area, _ = await service.edit(s, area_ref, column, text, actor=who, now=now)
        what = {"aliases": "New alias", "description": "Description", "contact": "Contact"}
        return _done(f"{what[column]} of {area.name} saved: {text}")

    async def reconfirm_reply(ctx: CommandContext) -> Reply | None:
        """An owner answering "reply with who" in the DM: record the proposed owner."""
        if ctx.message.room_kind is not RoomKind.DIRECT or not (
            "@" in ctx.message.body or "matrix.to" in (ctx.message.formatted_body or "")
        ):
            return None
        # Element's mention pill shows a display name in the body: take the id from its link
        pills = _PILL.findall(ctx.message.formatted_body or "")
        text = " ".join([*pills, ctx.message.body])
        area = await reconfirm.on_reply(
            ctx.session, ctx.sender, text, ctx.now,
            room_id=ctx.message.room_id, in_reply_to=ctx.message.in_reply_to,
        )  # fmt: skip
        if area is None:
            return None
        return Reply(
            f"Thanks: recorded as a proposed owner of {area}. "
            "The security team will confirm the change."
        )

    router.intercept("ownership-reconfirm-reply", reconfirm_reply)
    router.on_reaction(reconfirm.on_reaction(service))

    _register_owners(router, service)


def _register_owners(router: Router, service: OwnershipService) -> None:
    """``!owners`` (the map, page by page or per team) and the team's sub-commands."""
    p, team = router.prefix, Permission.SECURITY_TEAM

    @router.command(
        "owners",
        summary="List the responsibilities map (owners [page] | owners team <team>)",
        usage="owners [page]",
        group="Responsibilities",
    )
    async def owners(ctx: CommandContext) -> Reply:
        page_arg = ctx.argv[0] if ctx.argv else "1"
        if not is_number(page_arg):
            raise UsageError(f"{page_arg!r} is not a page number.")
        return await _area_list(ctx, None, int(page_arg))

    async def _area_list(ctx: CommandContext, team_name: str | None, page: int) -> Reply:
        views = await service.areas(ctx.session, team_name)
        if not views:
            raise UserError(
                f"No areas for team {team_name!r}." if team_name else "The map is empty."
            )
        size = service.settings.page_size
        pages = (len(views) + size - 1) // size
        page = min(max(page, 1), pages)
        title = f"Areas of team {team_name}" if team_name else "Areas in the responsibilities map"
        footer = f"Next: {p}owners {page + 1}" if page < pages and team_name is None else ""
        chunk = views[(page - 1) * size : page * size]
        return replies.area_list(chunk, title, page, pages, footer)

    sub = partial(router.subcommand, "owners")
    name = Arg("team", ArgKind.TEXT, missing="Which team?")

    @sub("team", summary="The areas of one team", args=(name,))
    async def of_team(ctx: CommandContext) -> Reply:
        return await _area_list(ctx, " ".join(ctx.params["team"].split()), 1)

    @sub("gaps", summary="Areas with no owner, stale or with changes to confirm", permission=team)
    async def gaps(ctx: CommandContext) -> Reply:
        changes = await reconfirm.open_changes(ctx.session)
        return replies.gap_list(await service.gaps(ctx.session, ctx.now), changes, p)

    @sub("misses", summary="Questions the map could not answer", permission=team)
    async def missed(ctx: CommandContext) -> Reply:
        groups = await misses.top_misses(ctx.session)
        return misses.render(groups, p, "Questions the map could not answer")

    def number(listed_by: str) -> Arg:
        which = f"Which one? Give its number from {{prefix}}owners {listed_by}."
        return Arg("number", ArgKind.NUMBER, missing=which, invalid=which)

    @sub(
        "accept",
        summary="Confirm a proposed owner change",
        args=(number("gaps"),),
        permission=team,
    )
    async def accept(ctx: CommandContext) -> Reply:
        who, now = ctx.sender, ctx.now
        number = ctx.params["number"]
        return _done(await reconfirm.accept(ctx.session, service, number, actor=who, now=now))

    @sub(
        "learn",
        summary="Teach the map a missed question",
        args=(number("misses"),),
        permission=team,
    )
    async def learn(ctx: CommandContext) -> Reply:
        who, now = ctx.sender, ctx.now
        number = ctx.params["number"]
        done = await misses.learn(
            ctx.session, service, number, actor=who, now=now, prefix=router.prefix
        )
        return _done(done)


def _done(text: str) -> Reply:
    return Reply(f"✅ {text}")
