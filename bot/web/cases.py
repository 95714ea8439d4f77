"""One page per ticket or incident, and its buttons: each runs the chat verb it stands for.

Every action posts to the case's page and runs the function of the chat verb it stands
for (:func:`bot.web.actions.run_action`), then shows the page again with the answer.
Tickets and incidents differ only in their :class:`CaseView` (what is loaded and which
template shows it, which action a form stands for).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Reply
from bot.commands.errors import UsageError
from bot.features.act import Act
from bot.features.incidents import actions as incidents
from bot.features.incidents import repository as incident_repo
from bot.features.incidents.clocks import clock_rows
from bot.features.incidents.models import OPEN_STATUSES, SEVERITIES, STATUSES
from bot.features.tickets import actions as tickets
from bot.features.tickets import repository as ticket_repo
from bot.features.tickets import texts
from bot.features.triage import GIVE_NOTE, GIVE_STATE, GIVE_USER, require_team_member
from bot.ids import CaseRef, UserId
from bot.web.actions import Action, given, run_action
from bot.web.board import age, clock_text, reporter_shown, require_team
from bot.web.site import ROUTER, message_page, render, services_of, viewer

TICKET_STATES = ("new", "triaged", "in_progress", "waiting", "resolved")
RESOLUTIONS = {
    "answered": "answered",
    "fixed": "fixed",
    "not-security": "not a security matter",
    "no-response": "no response",
}

# (session, number, now) -> the page's template context, or None when there is no such case.
Loader = Callable[[AsyncSession, int, datetime], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class CaseView:
    label: str  # "ticket"
    prefix: str  # "T": ids read T-12
    path: str  # "/tickets"
    template: str
    load: Loader
    action: Callable[[int, Any], tuple[str, Action] | None]  # form -> (verb, action)


async def _ticket(session: AsyncSession, number: int, now: datetime) -> dict[str, Any] | None:
    ticket = await ticket_repo.get_ticket(session, number=number)
    if ticket is None:
        return None
    comments = await ticket_repo.comments(session, ticket_id=ticket.id)
    return {
        "title": f"Ticket {ticket.ref}",
        "t": ticket,
        "state": texts.state_label(ticket),
        "kind": texts.KIND_LABELS.get(ticket.kind, ticket.kind),
        "reporter": reporter_shown(ticket),
        "age": age(ticket.created_at, now),
        "comments": [
            {
                "kind": c.kind,
                "author": c.author or ("reporter" if c.kind == "comment" else "team"),
                "at": c.created_at,
                "text": c.text or "(purged)",
            }
            for c in comments
        ],
        "events": await ticket_repo.events(session, ticket_id=ticket.id),
        "states": [(s, texts.STATE_LABELS[s]) for s in TICKET_STATES],
        "resolutions": RESOLUTIONS,
    }


async def _incident(session: AsyncSession, number: int, now: datetime) -> dict[str, Any] | None:
    incident = await incident_repo.get_incident(session, number=number)
    if incident is None:
        return None
    return {
        "title": f"Incident {CaseRef.incident(number)}",
        "i": incident,
        "age": age(incident.created_at, now),
        "open": incident.status in OPEN_STATUSES,
        "events": await incident_repo.timeline(session, incident_id=number),
        "clocks": [clock_text(c, now) for c in await clock_rows(session, number)],
        "statuses": STATUSES,
        "severities": SEVERITIES,
    }


def _field(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def ticket_action(number: int, form: Any) -> tuple[str, Action] | None:
    """The action a ticket form stands for: the chat verb's name and its function."""
    action, text = _field(form, "action"), _field(form, "text")
    if action == "claim":
        return "claim", lambda act: tickets.claim(act, number)
    if action == "assign":
        return "assign", lambda act: _assign(act, tickets.assign, number, _field(form, "user"))
    if action == "status":
        state = _field(form, "state")
        return "status", lambda act: _status(act, tickets.set_status, number, state)
    if action == "note":
        return "note", lambda act: tickets.note(act, number, given(text, GIVE_NOTE))
    if action == "reply":
        return "reply", lambda act: tickets.reply(act, number, given(text, tickets.GIVE_TEXT))
    if action == "close":
        why = f"{_field(form, 'resolution')} {text}".strip()
        return "close", lambda act: tickets.close(act, number, given(why, tickets.GIVE_WHY))
    if action == "reopen":
        return "reopen", lambda act: tickets.reopen(act, number)
    return None


def incident_action(number: int, form: Any) -> tuple[str, Action] | None:
    """The action an incident form stands for: the chat verb's name and its function."""
    action, text = _field(form, "action"), _field(form, "text")
    if action == "ack":
        return "ack", lambda act: incidents.acknowledge(act, number)
    if action == "severity":
        return "sev", lambda act: incidents.set_severity(act, number, _field(form, "severity"))
    if action == "status":
        state = _field(form, "status")
        return "status", lambda act: _status(act, incidents.set_status, number, state)
    if action == "assign":
        return "assign", lambda act: _assign(act, incidents.assign, number, _field(form, "user"))
    if action == "note":
        return "note", lambda act: incidents.note(act, number, given(text, GIVE_NOTE))
    if action == "update":
        return "update", lambda act: incidents.update(
            act, number, given(text, incidents.GIVE_UPDATE)
        )
    return None


async def _assign(act: Act, assign: Any, number: int, user: str) -> Reply | None:
    """``!assign``: a valid user id, in the security team (the triage verb's checks)."""
    try:
        user_id = UserId.parse(given(user, GIVE_USER))
    except ValueError:
        raise UsageError(GIVE_USER) from None
    require_team_member(act.services, user_id)
    return await assign(act, number, user_id)


async def _status(act: Act, set_status: Any, number: int, value: str) -> Reply | None:
    """``!status``: the state's first word (any case), then the rest."""
    state, _, rest = given(value, GIVE_STATE).partition(" ")
    return await set_status(act, number, state.lower(), rest.strip())


TICKETS = CaseView("ticket", "T", "/tickets", "ticket.html", _ticket, ticket_action)
INCIDENTS = CaseView("incident", "INC", "/incidents", "incident.html", _incident, incident_action)


async def _page(
    request: web.Request, view: CaseView, number: int, flash: dict[str, Any] | None = None
) -> web.Response:
    services = services_of(request)
    async with services.db.sessions() as session:
        context = await view.load(session, number, services.clock())
    if context is None:
        text = f"There is no {view.label} {CaseRef(view.prefix, number)}."
        return message_page(request, "Not found", text, 404)
    return render(request, view.template, {**context, "flash": flash})


def _number(request: web.Request) -> int:
    try:
        return int(request.match_info["number"])
    except ValueError:
        raise web.HTTPNotFound() from None


def _handlers(view: CaseView) -> tuple[Any, Any]:
    """GET (the page) and POST (an action, then the page with its answer) for ``view``."""

    async def page(request: web.Request) -> web.Response:
        if (refused := require_team(request)) is not None:
            return refused
        return await _page(request, view, _number(request))

    async def act(request: web.Request) -> web.Response:
        if (refused := require_team(request)) is not None:
            return refused
        number = _number(request)
        who = viewer(request)
        assert who is not None
        chosen = view.action(number, await request.post())
        if chosen is None:
            return message_page(request, "Unknown action", "That action does not exist.", 400)
        outcome = await run_action(request.app[ROUTER], who.user_id, *chosen)
        return await _page(request, view, number, {"ok": outcome.ok, "text": outcome.text})

    return page, act


def add_routes(app: web.Application) -> None:
    for view in (TICKETS, INCIDENTS):
        page, act = _handlers(view)
        app.router.add_get(f"{view.path}/{{number}}", page)
        app.router.add_post(f"{view.path}/{{number}}", act)
