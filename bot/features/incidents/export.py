"""The Markdown report of an incident: the start of a post-incident review."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents import severity as sev
from bot.features.incidents.chain import (
    EXPORT_KIND,
    HEAD_LINE,
    export_note,
    report_digest,
    verify_report,
)
from bot.features.incidents.clocks import clock_rows
from bot.features.incidents.models import OPEN_STATUSES, Incident, IncidentClock, IncidentEvent
from bot.ids import INCIDENT, CaseRef
from bot.paths import write_private

FOLLOW_UP_PREFIXES = ("todo:", "follow-up:", "followup:", "action:")


def _t(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when else "—"


# Markdown (and the HTML a renderer passes through) in what people typed: shown as text.
_MARKDOWN = re.compile(r"([\\`*_\[\]#!|<>~&])")


def _md(text: str) -> str:
    """People's text made inert in Markdown: every syntax character escaped."""
    return _MARKDOWN.sub(r"\\\1", text)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return _md(text).replace("\r", " ").replace("\n", " ")


def _quote(text: str) -> str:
    return "\n".join(f"> {_md(line)}" for line in text.splitlines() or [""])


def follow_ups(incident: Incident, events: Sequence[IncidentEvent]) -> list[str]:
    """Open follow-ups: notes starting with TODO:/follow-up:/action:, plus gaps in the record."""
    items = []
    for e in events:
        if e.kind == "note" and e.text.lower().startswith(FOLLOW_UP_PREFIXES):
            items.append(e.text.split(":", 1)[1].strip() + f" (from {e.author or 'bot'})")
    if incident.acked_at is None:
        items.append("Nobody has acknowledged the incident.")
    if incident.assignee is None:
        items.append("Assign an owner.")
    if incident.severity_set_by is None:
        items.append("Rate the severity (it is assumed until the team sets it).")
    if incident.status in OPEN_STATUSES:
        items.append(f"The incident is still {incident.status}: contain, resolve and close it.")
    items.append("Hold the post-incident review and record what we change.")
    return items


def _clock_lines(clocks: Sequence[IncidentClock]) -> list[str]:
    if not clocks:
        return []
    lines = [
        "## Regulatory clocks",
        "",
        "| Clock | Deadline | Started | Due | Met |",
        "|---|---|---|---|---|",
    ]
    for c in clocks:
        met = f"{_t(c.met_at)} by {c.met_by or '—'}" if c.met_at else "not yet"
        lines.append(
            f"| {c.name} | {_cell(c.label)} | {_t(c.started_at)} | {_t(c.deadline_at)} | {met} |"
        )
    return [*lines, ""]


def render_markdown(
    incident: Incident,
    events: Sequence[IncidentEvent],
    *,
    clocks: Sequence[IncidentClock] = (),
) -> str:
    """The report: summary, reporter's words, first steps, clocks, timeline, follow-ups.

    It ends with the head of the timeline's hash chain (the last entry written).
    """
    n = f"INC-{incident.id}"
    head = max(events, key=lambda e: e.id).hash if events else None
    out = [
        f"# {n} — {incident.type_name}",
        "",
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| Type | {_cell(incident.type_name)} ({incident.type_key}) |",
        f"| Severity | {sev.label(incident)} |",
        f"| Status | {incident.status} |",
        f"| Reported | {_t(incident.created_at)} by {incident.reporter} |",
        f"| Acknowledged | {_t(incident.acked_at)} by {incident.acked_by or '—'} |",
        f"| Assignee | {incident.assignee or '—'} |",
        f"| Lead | {incident.lead or '—'} |",
        *([f"| Merged into | INC-{incident.merged_into} |"] if incident.merged_into else []),
        f"| Paged | {_t(incident.paged_at)} (escalations: {incident.escalation_level}) |",
        "",
        "## What happened (reporter's words)",
        "",
        _quote(incident.summary or "(not answered: the reporter stopped before saying)"),
        "",
        f"- When: {_cell(incident.occurred or '—')}",
        f"- Affected: {_cell(incident.affected or '—')}",
        "",
        "## First steps given to the reporter",
        "",
        *[f"{i}. {s}" for i, s in enumerate(incident.first_steps, start=1)],
        "",
        *_clock_lines(clocks),
        "## Timeline",
        "",
        "| Time | Who | What | Detail |",
        "|---|---|---|---|",
        *[f"| {_t(e.at)} | {e.author or 'bot'} | {e.kind} | {_cell(e.text)} |" for e in events],
        "",
        "## Open follow-ups",
        "",
        *[f"- [ ] {_cell(item)}" for item in follow_ups(incident, events)],
        "",
        f"{HEAD_LINE}{head or '—'}",
        "",
    ]
    return "\n".join(out)


async def export_incident(
    session: AsyncSession, number: int, *, by: str | None = None, now: datetime | None = None
) -> str | None:
    """The Markdown report of incident ``number`` (None if there is none).

    With ``now``, the export is recorded on the timeline with the report's SHA-256, so
    ``helpdesk-bot incident verify`` can later prove a file is this report unchanged.
    """
    incident = await repo.get_incident(session, number=number)
    if incident is None:
        return None
    events = await repo.timeline(session, incident_id=number)
    report = render_markdown(incident, events, clocks=await clock_rows(session, number))
    if now is not None:
        await repo.add_event(
            session,
            incident_id=number,
            at=now,
            author=by,
            kind=EXPORT_KIND,
            text=export_note(report_digest(report)),
        )
    return report


def parse_ref(text: str) -> int | None:
    """``INC-12``, ``inc-12``, ``inc12``, ``#12`` or ``12`` → 12 (None: not an incident id)."""
    return CaseRef.parse_as(text, INCIDENT)


async def cli_export(args: argparse.Namespace) -> int:
    """``helpdesk-bot incident export INC-N [--output FILE]``."""
    from bot.settings import load_config
    from bot.storage import Database

    number = parse_ref(args.incident)
    if number is None:
        print(f"{args.incident!r} is not an incident id like INC-12", file=sys.stderr)
        return 2
    settings = load_config(args.config)
    db = Database(settings.database.url)
    try:
        async with db.sessions.begin() as session:
            report = await export_incident(session, number, by=None, now=datetime.now(UTC))
    finally:
        await db.close()
    if report is None:
        print(f"There is no incident INC-{number}.", file=sys.stderr)
        return 1
    if args.output:
        write_private(Path(args.output), report)  # incident text: this user only
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(report)
    return 0


def add_cli(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """``helpdesk-bot incident export INC-N`` and ``helpdesk-bot incident verify INC-N FILE``."""
    incident = sub.add_parser("incident", parents=[common], help="incident reports")
    actions = incident.add_subparsers(dest="incident_command", metavar="ACTION")
    actions.required = True
    export = actions.add_parser(
        "export", parents=[common], help="print an incident's Markdown report"
    )
    export.add_argument("incident", help="the incident id, e.g. INC-12")
    export.add_argument("--output", "-o", help="write to this file instead of stdout")
    export.set_defaults(func=cli_export)
    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check an exported report against the database's hash-chained timeline",
    )
    verify.add_argument("incident", help="the incident id, e.g. INC-12")
    verify.add_argument("file", help="the exported Markdown report")
    verify.set_defaults(func=cli_verify)


async def cli_verify(args: argparse.Namespace) -> int:
    """``helpdesk-bot incident verify INC-N FILE``: 0 verified, 1 not, 2 usage/config."""
    from bot.settings import load_config
    from bot.storage import Database

    number = parse_ref(args.incident)
    if number is None:
        print(f"{args.incident!r} is not an incident id like INC-12", file=sys.stderr)
        return 2
    try:
        with open(args.file, encoding="utf-8", newline="") as fh:  # noqa: ASYNC230 - CLI
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    settings = load_config(args.config)
    db = Database(settings.database.url)
    try:
        async with db.sessions() as session:
            if await repo.get_incident(session, number=number) is None:
                print(f"There is no incident INC-{number}.", file=sys.stderr)
                return 1
            verdict = verify_report(text, await repo.chain(session, incident_id=number))
    finally:
        await db.close()
    if verdict.ok:
        print(
            f"VERIFIED: {args.file} is the report of INC-{number} as {verdict.detail}; "
            "the timeline's hash chain is intact."
        )
        return 0
    print(f"NOT VERIFIED: {args.file} against INC-{number}:")
    for problem in verdict.problems:
        print(f"  - {problem}")
    return 1
