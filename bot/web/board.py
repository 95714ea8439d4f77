"""The triage board: tickets and incidents by state, filtered (case pages: bot/web/cases.py).

The reporter of an anonymous ticket is never shown.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as incident_repo
from bot.features.incidents.models import SEVERITIES, IncidentClock
from bot.features.tickets import repository as ticket_repo
from bot.features.tickets import texts
from bot.web.site import message_page, render, services_of, viewer

TICKET_FILTERS = {
    "open": {"exclude_states": ("closed",)},
    "new": {"states": ("new",)},
    "waiting": {"states": ("waiting",)},
    "closed": {"states": ("closed",)},
    "all": {},
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


@dataclass(frozen=True)
class BoardFilter:
    """What the board shows, from the query string (unknown values fall back)."""

    tickets: str = "open"
    assignee: str = "any"
    incidents: str = "open"
    severity: str = "any"

    @classmethod
    def of(cls, query: Any) -> BoardFilter:
        return cls(
            tickets=query.get("tickets") if query.get("tickets") in TICKET_FILTERS else "open",
            assignee=query.get("assignee", "any"),
            incidents="all" if query.get("incidents") == "all" else "open",
            severity=query.get("severity", "any"),
        )


async def _next_clocks(session: AsyncSession, incidents: list[Any]) -> dict[int, IncidentClock]:
    """The next regulatory deadline still running, per incident (earliest first)."""
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
    return next_clock


def _ticket_row(t: Any, now: datetime) -> dict[str, Any]:
    return {
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


def _incident_row(i: Any, clock: IncidentClock | None, now: datetime) -> dict[str, Any]:
    return {
        "id": i.id,
        "status": i.status,
        "type": i.type_name,
        "severity": i.severity or "unset",
        "assignee": i.assignee or "unassigned",
        "age": age(i.created_at, now),
        "acked": age(i.acked_at, now) + " ago" if i.acked_at else "not acknowledged",
        "clock": clock_text(clock, now) if clock is not None else "—",
    }


def _wanted_incidents(incidents: list[Any], severity: str) -> list[Any]:
    if severity in SEVERITIES:
        return [i for i in incidents if i.severity == severity]
    if severity == "unset":
        return [i for i in incidents if not i.severity]
    return incidents


async def board(request: web.Request) -> web.Response:
    """GET /: tickets and incidents, filtered."""
    if (refused := require_team(request)) is not None:
        return refused
    services = services_of(request)
    who = viewer(request)
    assert who is not None
    f = BoardFilter.of(request.query)
    now = services.clock()
    async with services.db.sessions() as session:
        filters: dict[str, Any] = dict(TICKET_FILTERS[f.tickets])
        if f.assignee == "mine":
            filters["assignee"] = who.user_id
        tickets = await ticket_repo.list_tickets(session, limit=200, **filters)
        incidents = list(
            await incident_repo.list_incidents(session, open_only=f.incidents == "open")
        )
        next_clock = await _next_clocks(session, incidents)
    if f.assignee == "unassigned":
        tickets = [t for t in tickets if not t.assignee]
    incidents = _wanted_incidents(incidents, f.severity)
    by_state = Counter(texts.STATE_LABELS.get(t.state, t.state) for t in tickets)
    return render(
        request,
        "board.html",
        {
            "title": "Triage board",
            "tickets": [_ticket_row(t, now) for t in tickets],
            "incidents": [_incident_row(i, next_clock.get(i.id), now) for i in incidents],
            "by_state": dict(by_state),
            "filter": asdict(f),
            "ticket_filters": list(TICKET_FILTERS),
            "severities": SEVERITIES,
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", board)
