"""Charts as server-rendered SVG (pygal), each with a data table as its text alternative.

Only aggregates: counts per week or day, durations, map gaps; never a name or a text.
Each SVG is its own resource (``<img>``), so the page itself keeps a script-free CSP.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents.models import Incident, IncidentEvent
from bot.features.tickets.models import Ticket, TicketEvent
from bot.features.tips.models import TipMark
from bot.services import Services
from bot.web.board import require_team
from bot.web.handbook import OWNERSHIP
from bot.web.site import render, services_of

WEEKS = 8
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
# pygal writes its config as an inline script (for its optional tooltips): not wanted.
_SCRIPT = re.compile(rb"<script\b.*?</script>", re.S)


@dataclass
class Chart:
    """One chart: its series over labelled points, as drawn and as a table."""

    name: str
    title: str
    labels: list[str]
    series: dict[str, list[float]] = field(default_factory=dict)
    kind: str = "bar"
    unit: str = ""

    def summary(self) -> str:
        """The text alternative in one sentence."""
        parts = []
        for name, values in self.series.items():
            points = zip(self.labels, values, strict=False)
            parts.append(f"{name}: " + ", ".join(f"{lab} {fmt(v)}{self.unit}" for lab, v in points))
        return f"{self.title}. " + "; ".join(parts) if parts else f"{self.title}: no data yet."


def fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def week_start(when: datetime) -> datetime:
    day = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


async def weekly(session: AsyncSession, now: datetime) -> Chart:
    """Tickets and incidents opened and closed per week (last :data:`WEEKS` weeks)."""
    first = week_start(now) - timedelta(weeks=WEEKS - 1)
    weeks = [first + timedelta(weeks=n) for n in range(WEEKS)]
    labels = [f"{w:%m-%d}" for w in weeks]

    def bucket(times: list[datetime]) -> list[float]:
        counts = [0.0] * WEEKS
        for t in times:
            if t >= first:
                counts[min(WEEKS - 1, (t - first).days // 7)] += 1
        return counts

    t_open = list(
        await session.scalars(select(Ticket.created_at).where(Ticket.created_at >= first))
    )
    t_closed = list(
        await session.scalars(select(Ticket.closed_at).where(Ticket.closed_at >= first))
    )
    i_open = list(
        await session.scalars(select(Incident.created_at).where(Incident.created_at >= first))
    )
    i_closed = list(
        await session.scalars(
            select(IncidentEvent.at).where(
                IncidentEvent.kind == "status",
                IncidentEvent.at >= first,
                IncidentEvent.text.like("%→ closed%"),
            )
        )
    )
    chart = Chart("weekly", "Opened and closed per week (week starting)", labels)
    chart.series = {
        "tickets opened": bucket(t_open),
        "tickets closed": bucket(t_closed),
        "incidents opened": bucket(i_open),
        "incidents closed": bucket(i_closed),
    }
    return chart


async def response_times(session: AsyncSession) -> Chart:
    """Time to the team's first action on a ticket, and to an incident's acknowledgement."""
    firsts = await session.execute(
        select(Ticket.created_at, func.min(TicketEvent.at))
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(TicketEvent.action != "filed", TicketEvent.actor.like("@%"))
        .where((Ticket.reporter_id.is_(None)) | (TicketEvent.actor != Ticket.reporter_id))
        .group_by(Ticket.id, Ticket.created_at)
    )
    ticket_hours = [(at - created).total_seconds() / 3600 for created, at in firsts if at]
    acks = await session.execute(
        select(Incident.created_at, Incident.acked_at).where(Incident.acked_at.is_not(None))
    )
    ack_hours = [(acked - created).total_seconds() / 3600 for created, acked in acks]
    # Minutes when everything is quick, so small values do not all read 0.
    scale, unit, word = (
        (60, "min", "Minutes")
        if max(ticket_hours + ack_hours, default=0) < 2
        else (1, "h", "Hours")
    )

    def stats(values: list[float]) -> list[float]:
        if not values:
            return [0.0, 0.0]
        return [
            round(statistics.median(values) * scale, 2),
            round(percentile(values, 90) * scale, 2),
        ]

    chart = Chart(
        "response",
        f"{word} to first response ({len(ticket_hours)} tickets) and to acknowledgement "
        f"({len(ack_hours)} incidents)",
        ["median", "p90"],
        unit=unit,
    )
    chart.series = {
        "ticket first response": stats(ticket_hours),
        "incident acknowledgement": stats(ack_hours),
    }
    return chart


async def participation(session: AsyncSession, now: datetime) -> Chart:
    """People who marked a tip done (✅) per day, all campaigns, last 31 days."""
    since = (now - timedelta(days=30)).date()
    rows = await session.execute(
        select(TipMark.local_date, func.count(func.distinct(TipMark.marker)))
        .where(TipMark.kind == "done", TipMark.local_date >= since)
        .group_by(TipMark.local_date)
        .order_by(TipMark.local_date)
    )
    data = [(day, int(n)) for day, n in rows]
    chart = Chart(
        "participation",
        "Daily tip marked done: people per day (all campaigns)",
        [f"{d:%m-%d}" for d, _ in data],
    )
    chart.series = {"people": [float(n) for _, n in data]} if data else {}
    return chart


async def map_health(services: Services, session: AsyncSession, ownership) -> Chart:  # type: ignore[no-untyped-def]
    """Areas of the map with a problem, by problem."""
    gaps = await ownership.gaps(session, services.clock())
    counts = {"no owner": 0, "no backup": 0, "stale or never verified": 0}
    for gap in gaps:
        for problem in gap.problems:
            if problem == "no owner":
                counts["no owner"] += 1
            elif problem == "no backup":
                counts["no backup"] += 1
            elif problem.startswith(("last verified", "never verified")):
                counts["stale or never verified"] += 1
    total = len((await ownership.snapshot(session)).index.entries)
    chart = Chart("map", f"Map health: areas with a gap (of {total} areas)", list(counts))
    chart.series = {"areas": [float(v) for v in counts.values()]}
    return chart


async def all_charts(request: web.Request) -> list[Chart]:
    services = services_of(request)
    now = services.clock()
    async with services.db.sessions() as session:
        return [
            await weekly(session, now),
            await response_times(session),
            await participation(session, now),
            await map_health(services, session, request.app[OWNERSHIP]),
        ]


def svg(chart: Chart) -> bytes:
    """The chart drawn by pygal, without any script (imported here: only a chart page needs it)."""
    import pygal
    from pygal.style import CleanStyle

    cls = pygal.Line if chart.kind == "line" else pygal.Bar
    drawing = cls(
        style=CleanStyle,
        js=[],
        width=720,
        height=320,
        title=chart.title,
        x_labels=chart.labels,
        show_legend=True,
        legend_at_bottom=True,
        print_values=False,
        no_data_text="No data yet",
        disable_xml_declaration=False,
    )
    for name, values in chart.series.items():
        drawing.add(name, values)
    return _SCRIPT.sub(b"", drawing.render())


async def charts_page(request: web.Request) -> web.Response:
    if (refused := require_team(request)) is not None:
        return refused
    return render(request, "charts.html", {"title": "Charts", "charts": await all_charts(request)})


async def chart_svg(request: web.Request) -> web.Response:
    if (refused := require_team(request)) is not None:
        return refused
    name = request.match_info["name"]
    found = next((c for c in await all_charts(request) if c.name == name), None)
    if found is None:
        raise web.HTTPNotFound()
    response = web.Response(body=svg(found), content_type="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/charts", charts_page)
    app.router.add_get("/charts/{name}.svg", chart_svg)
