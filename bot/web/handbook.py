"""The handbook page: the responsibilities map, searchable with the bot's own matching."""

from __future__ import annotations

from aiohttp import web

from bot.features.ownership import replies
from bot.features.ownership.handbook import NO_TEAM
from bot.features.ownership.matching import name_key
from bot.features.ownership.phrasing import match_owner_question
from bot.features.ownership.service import OwnershipService
from bot.web.site import message_page, plain_text, render, services_of, viewer

OWNERSHIP = web.AppKey("ownership", OwnershipService)
MAX_QUERY = 300


def may_read(request: web.Request) -> web.Response | None:
    """The refusal to show instead of the handbook, if any."""
    services = services_of(request)
    mode = services.settings.web.handbook
    if mode == "off":
        return message_page(request, "Not here", "The handbook page is not enabled.", 404)
    if mode == "members" and viewer(request) is None:
        prefix = services.settings.bot.command_prefix
        return message_page(
            request,
            "Sign in",
            f"Send {prefix}handbook to the bot in the helpdesk room or a DM; it answers with "
            "a sign-in link.",
            401,
        )
    return None


async def handbook(request: web.Request) -> web.Response:
    """GET /handbook[?q=question]."""
    if (refused := may_read(request)) is not None:
        return refused
    services = services_of(request)
    ownership = request.app[OWNERSHIP]
    settings = services.settings.ownership
    question = request.query.get("q", "").strip()[:MAX_QUERY]
    now = services.clock()
    result = None
    answer_text = ""
    async with services.db.sessions() as session:
        snap = await ownership.snapshot(session)
        if question:
            # "who handles phishing?" and "phishing" both work, as in chat.
            thing = match_owner_question(question) or question
            result = snap.index.search(thing)
            prefix = services.settings.bot.command_prefix
            if result.kind == "answer" and result.best is not None:
                reply = replies.answer(result.best.area, snap, now, settings.fallback_contact)
            elif result.kind == "ambiguous":
                reply = replies.ambiguous(thing, result, prefix)
            else:
                reply = replies.fallback(thing, result, settings.fallback_contact, prefix)
            answer_text = plain_text(reply.text, prefix)
    groups: dict[str, list] = {}
    for entry in sorted(snap.index.entries, key=lambda e: name_key(e.area.name)):
        groups.setdefault(entry.area.team or NO_TEAM, []).append(entry.area)
    order = sorted(groups, key=lambda g: (g == NO_TEAM, name_key(g)))
    matched = {m.area.id for m in result.matches} if result is not None else set()
    return render(
        request,
        "handbook.html",
        {
            "title": "Handbook: who to contact",
            "question": question,
            "answer": answer_text,
            "result": result,
            "matched": matched,
            "groups": [(g, groups[g], snap.champions.get(g)) for g in order],
            "fallback": settings.fallback_contact,
            "now": now,
        },
    )


def add_routes(app: web.Application, services_settings: object) -> None:
    from bot.settings import Settings

    assert isinstance(services_settings, Settings)
    app[OWNERSHIP] = OwnershipService(services_settings.ownership)
    app.router.add_get("/handbook", handbook)
