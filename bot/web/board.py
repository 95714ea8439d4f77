"""The triage board: tickets and incidents by state, one page per case, the chat verbs.

Every action posts to the case's page and runs the chat command it stands for
(:func:`bot.web.actions.run_command`). The reporter of an anonymous ticket is never shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.features.incidents import repository as incident_repo
from bot.features.incidents.clocks import clock_rows
from bot.features.incidents.models import (
    OPEN_STATUSES,
    SEVERITIES,
    STATUSES,
    IncidentClock,
)
from bot.features.tickets import repository as ticket_repo
from bot.features.tickets import texts
from bot.web.actions import run_command
from bot.web.site import ROUTER, message_page, render, services_of, viewer

TICKET_STATES = ("new", "triaged", "in_progress", "waiting", "resolved")
TICKET_FILTERS = {
    "open": {"exclude_states": ("closed",)},
    "new": {"states": ("new",)},
    "waiting": {"states": ("waiting",)},
    "closed": {"states": ("closed",)},
    "all": {},
}
RESOLUTIONS = {
    "answered": "answered",
    "fixed": "fixed",
    "not-security": "not a security matter",
    "no-response": "no response",
}


def age(since: datetime | None, now: datetime) -> str:
    """A short age like ``45m``, ``5h``, ``3d``."""
    if since is None:
        return "—"
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def clock_text(clock: IncidentClock, now: datetime) -> str:
    """``GDPR: notify the authority — due in 5h`` / ``overdue by 2h`` / ``met``."""
    if clock.met_at is not None:
        return f"{clock.label}: met {clock.met_at.strftime('%Y-%m-%d %H:%M')} UTC"
    if clock.deadline_at >= now:
        return f"{clock.label}: due in {age(now, clock.deadline_at)}"
    return f"{clock.label}: OVERDUE by {age(clock.deadline_at, now)}"


def require_team(request: web.Request) -> web.Response | None:
    """The page to show instead when the viewer is not a signed-in team member."""
    who = viewer(request)
    prefix = services_of(request).settings.bot.command_prefix
    if who is None:
        return message_page(
            request,
            "Sign in",
            f"Send {prefix}dashboard to the bot (triage room or DM); it answers with a "
            "sign-in link.",
            401,
        )
    if not who.team:
        return message_page(request, "Not for you", "The board is for the security team.", 403)
    return None


def reporter_shown(ticket: Any) -> str:
    """Who filed the ticket, as the board may show it."""
    return "anonymous" if ticket.anonymous or not ticket.reporter_id else ticket.reporter_id


async def board(request: web.Request) -> web.Response:
    """GET /: tickets and incidents, filtered."""
    if (refused := require_team(request)) is not None:
        return refused
    services = services_of(request)
    who = viewer(request)
    assert who is not None
    q = request.query
    which = q.get("tickets", "open") if q.get("tickets") in TICKET_FILTERS else "open"
    assignee = q.get("assignee", "any")
    incidents_which = "all" if q.get("incidents") == "all" else "open"
    severity = q.get("severity", "any")
    now = services.clock()
    async with services.db.sessions() as session:
        filters: dict[str, Any] = dict(TICKET_FILTERS[which])
        if assignee == "mine":
            filters["assignee"] = who.user_id
        tickets = await ticket_repo.list_tickets(session, limit=200, **filters)
        incidents = list(
            await incident_repo.list_incidents(session, open_only=incidents_which == "open")
        )
        # The next regulatory deadline still running, per incident (earliest first).
        next_clock: dict[int, IncidentClock] = {}
        if incidents:
            running = await session.scalars(
                select(IncidentClock)
                .where(
                    IncidentClock.incident_id.in_([i.id for i in incidents]),
                    IncidentClock.met_at.is_(None),
                )
                .order_by(IncidentClock.deadline_at)
            )
            for clock in running:
                next_clock.setdefault(clock.incident_id, clock)
    if assignee == "unassigned":
        tickets = [t for t in tickets if not t.assignee]
    if severity in SEVERITIES:
        incidents = [i for i in incidents if i.severity == severity]
    elif severity == "unset":
        incidents = [i for i in incidents if not i.severity]
    ticket_rows = [
        {
            "ref": t.ref,
            "id": t.id,
            "state": texts.state_label(t),
            "kind": texts.KIND_LABELS.get(t.kind, t.kind),
            "tags": t.tags,
            "summary": texts.summary(t),
            "reporter": reporter_shown(t),
            "assignee": t.assignee or "unassigned",
            "age": age(t.created_at, now),
            "updated": age(t.updated_at, now),
        }
        for t in tickets
    ]
    incident_rows = [
        {
            "id": i.id,
            "status": i.status,
            "type": i.type_name,
            "severity": i.severity or "unset",
            "assignee": i.assignee or "unassigned",
            "age": age(i.created_at, now),
            "acked": age(i.acked_at, now) + " ago" if i.acked_at else "not acknowledged",
            "clock": clock_text(next_clock[i.id], now) if i.id in next_clock else "—",
        }
        for i in incidents
    ]
    by_state: dict[str, int] = {}
    for t in tickets:
        by_state[texts.STATE_LABELS.get(t.state, t.state)] = (
            by_state.get(texts.STATE_LABELS.get(t.state, t.state), 0) + 1
        )
    return render(
        request,
        "board.html",
        {
            "title": "Triage board",
            "tickets": ticket_rows,
            "incidents": incident_rows,
            "by_state": by_state,
            "filter": {
                "tickets": which,
                "assignee": assignee,
                "incidents": incidents_which,
                "severity": severity,
            },
            "ticket_filters": list(TICKET_FILTERS),
            "severities": SEVERITIES,
        },
    )


async def _ticket_page(
    request: web.Request, number: int, flash: dict | None = None
) -> web.Response:
    services = services_of(request)
    now = services.clock()
    async with services.db.sessions() as session:
        ticket = await ticket_repo.get_ticket(session, number=number)
        if ticket is None:
            return message_page(request, "Not found", f"There is no ticket T-{number}.", 404)
        comments = await ticket_repo.comments(session, ticket_id=ticket.id)
        events = await ticket_repo.events(session, ticket_id=ticket.id)
    return render(
        request,
        "ticket.html",
        {
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
            "events": events,
            "states": [(s, texts.STATE_LABELS[s]) for s in TICKET_STATES],
            "resolutions": RESOLUTIONS,
            "flash": flash,
        },
    )


async def _incident_page(
    request: web.Request, number: int, flash: dict | None = None
) -> web.Response:
    services = services_of(request)
    now = services.clock()
    async with services.db.sessions() as session:
        incident = await incident_repo.get_incident(session, number=number)
        if incident is None:
            return message_page(request, "Not found", f"There is no incident INC-{number}.", 404)
        events = await incident_repo.timeline(session, incident_id=number)
        clocks = [clock_text(c, now) for c in await clock_rows(session, number)]
    return render(
        request,
        "incident.html",
        {
            "title": f"Incident INC-{number}",
            "i": incident,
            "age": age(incident.created_at, now),
            "open": incident.status in OPEN_STATUSES,
            "events": events,
            "clocks": clocks,
            "statuses": STATUSES,
            "severities": SEVERITIES,
            "flash": flash,
        },
    )


def _number(request: web.Request) -> int:
    try:
        return int(request.match_info["number"])
    except ValueError:
        raise web.HTTPNotFound() from None


async def ticket_page(request: web.Request) -> web.Response:
    if (refused := require_team(request)) is not None:
        return refused
    return await _ticket_page(request, _number(request))


async def incident_page(request: web.Request) -> web.Response:
    if (refused := require_team(request)) is not None:
        return refused
    return await _incident_page(request, _number(request))


def _field(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def ticket_command(number: int, form: Any) -> tuple[str, str] | None:
    """The chat command a ticket form stands for."""
    ref, action = f"T-{number}", _field(form, "action")
    text = _field(form, "text")
    if action == "claim":
        return "claim", ref
    if action == "assign":
        return "assign", f"{ref} {_field(form, 'user')}"
    if action == "status":
        return "status", f"{ref} {_field(form, 'state')}"
    if action in ("note", "reply"):
        return action, f"{ref} {text}"
    if action == "close":
        return "close", f"{ref} {_field(form, 'resolution')} {text}".strip()
    if action == "reopen":
        return "reopen", ref
    return None


def incident_command(number: int, form: Any) -> tuple[str, str] | None:
    """The chat command an incident form stands for."""
    ref, action = f"INC-{number}", _field(form, "action")
    if action == "ack":
        return "ack", ref
    if action == "severity":
        return "sev", f"{ref} {_field(form, 'severity')}"
    if action == "status":
        return "status", f"{ref} {_field(form, 'status')}"
    if action == "assign":
        return "assign", f"{ref} {_field(form, 'user')}"
    if action in ("note", "update"):
        return action, f"{ref} {_field(form, 'text')}"
    return None


async def _act(request: web.Request, build: Any, page: Any) -> web.Response:
    if (refused := require_team(request)) is not None:
        return refused
    number = _number(request)
    who = viewer(request)
    assert who is not None
    command = build(number, await request.post())
    if command is None:
        return message_page(request, "Unknown action", "That action does not exist.", 400)
    outcome = await run_command(request.app[ROUTER], who.user_id, *command)
    flash = {"ok": outcome.ok, "text": outcome.text}
    return await page(request, number, flash)


async def ticket_action(request: web.Request) -> web.Response:
    return await _act(request, ticket_command, _ticket_page)


async def incident_action(request: web.Request) -> web.Response:
    return await _act(request, incident_command, _incident_page)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", board)
    app.router.add_get("/tickets/{number}", ticket_page)
    app.router.add_post("/tickets/{number}", ticket_action)
    app.router.add_get("/incidents/{number}", incident_page)
    app.router.add_post("/incidents/{number}", incident_action)
