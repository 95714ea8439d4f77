"""``!owner`` (ask; the team's edits are in :mod:`.edits`) and ``!owners`` (list, team, gaps)."""

from __future__ import annotations

from functools import partial

from bot.commands.context import CommandContext, Reply, RoomKind
from bot.commands.errors import UsageError, UserError
from bot.commands.registry import IGNORED, Arg, ArgKind
from bot.commands.router import Permission, Router
from bot.features.ownership import asking, misses, reconfirm, replies
from bot.features.ownership.edits import EDIT_REFUSAL, EDITS, PILL, MapEdits, done
from bot.features.ownership.phrasing import match_owner_question, match_situation, situation_of
from bot.features.ownership.service import OwnershipService
from bot.messaging import md


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
        if question.refers_back:
            return replies.which_thing(settings.fallback_contact, p)
        return replies.fallback(thing, result, settings.fallback_contact, p)

    async def situation(ctx: CommandContext) -> Reply:
        found = situation_of(ctx.message.body)
        return await ask(ctx, asking.Question(ctx.args, True, bool(found and found.refers_back)))

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

    edits = MapEdits(service)
    for verb, (summary, shape) in EDITS.items():
        missing = "Which area?" if shape == "<area>" else "Which area, and what should it say?"
        router.subcommand(
            "owner",
            verb,
            summary=summary,
            args=(Arg("text", ArgKind.TEXT, missing=missing, shape=shape),),
            permission=Permission.SECURITY_TEAM,
            refusal=EDIT_REFUSAL,
        )(edits.handler(verb))

    router.intercept("ownership-reconfirm-reply", reconfirm_reply)
    router.on_reaction(reconfirm.on_reaction(service))

    _register_owners(router, service)


def _register_owners(router: Router, service: OwnershipService) -> None:
    """``!owners`` (the map, page by page or per team) and the team's sub-commands."""
    page = Arg("page", ArgKind.NUMBER, optional=True, invalid="{word!r} is not a page number.")

    @router.command(
        "owners",
        summary="List the responsibilities map (owners [page] | owners team <team>)",
        usage="owners [page]",
        group="Responsibilities",
        args=(page,),
        extra=IGNORED,
    )
    async def owners(ctx: CommandContext) -> Reply:
        number = ctx.params["page"]
        return await _area_list(router, service, ctx, None, 1 if number is None else number)

    name = Arg("team", ArgKind.TEXT, missing="Which team?")

    @router.subcommand("owners", "team", summary="The areas of one team", args=(name,))
    async def of_team(ctx: CommandContext) -> Reply:
        team_name = " ".join(ctx.params["team"].split())
        return await _area_list(router, service, ctx, team_name, 1)

    _register_owners_team_tools(router, service)


async def _area_list(
    router: Router,
    service: OwnershipService,
    ctx: CommandContext,
    team_name: str | None,
    page: int,
) -> Reply:
    """One page of the map's areas (all of them, or one team's)."""
    views = await service.areas(ctx.session, team_name)
    if not views:
        raise UserError(
            f"No areas for team {md.escape(repr(team_name))}." if team_name else "The map is empty."
        )
    size = service.settings.page_size
    pages = (len(views) + size - 1) // size
    page = min(max(page, 1), pages)
    title = f"Areas of team {team_name}" if team_name else "Areas in the responsibilities map"
    more = page < pages and team_name is None
    footer = f"Next: {router.prefix}owners {page + 1}" if more else ""
    chunk = views[(page - 1) * size : page * size]
    return replies.area_list(chunk, title, page, pages, footer)


def _register_owners_team_tools(router: Router, service: OwnershipService) -> None:
    """The security team's ``!owners`` sub-commands: gaps, misses, accept, learn."""
    p, team = router.prefix, Permission.SECURITY_TEAM
    sub = partial(router.subcommand, "owners")

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
        return done(await reconfirm.accept(ctx.session, service, number, actor=who, now=now))

    @sub(
        "learn",
        summary="Teach the map a missed question",
        args=(number("misses"),),
        permission=team,
    )
    async def learn(ctx: CommandContext) -> Reply:
        who, now = ctx.sender, ctx.now
        number = ctx.params["number"]
        learned = await misses.learn(
            ctx.session, service, number, actor=who, now=now, prefix=router.prefix
        )
        return done(learned)


async def reconfirm_reply(ctx: CommandContext) -> Reply | None:
    """An owner answering "reply with who" in the DM: record the proposed owner."""
    if ctx.message.room_kind is not RoomKind.DIRECT or not (
        "@" in ctx.message.body or "matrix.to" in (ctx.message.formatted_body or "")
    ):
        return None
    # Element's mention pill shows a display name in the body: take the id from its link
    pills = PILL.findall(ctx.message.formatted_body or "")
    text = " ".join([*pills, ctx.message.body])
    area = await reconfirm.on_reply(
        ctx.session, ctx.sender, text, ctx.now,
        room_id=ctx.message.room_id, in_reply_to=ctx.message.in_reply_to,
    )  # fmt: skip
    if area is None:
        return None
    return Reply(
        f"Thanks: recorded as a proposed owner of {md.escape(area)}. "
        "The security team will confirm the change."
    )
