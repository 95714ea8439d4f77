"""Commands of the security team for incidents, and the ``INC`` kind of the triage verbs."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import CommandContext, Reaction, Reply, RoomKind
from bot.commands.errors import UsageError, UserError
from bot.commands.registry import IGNORED, Arg, ArgKind
from bot.commands.router import Permission, Router
from bot.features.act import act_of
from bot.features.incidents import actions, loop_handlers
from bot.features.incidents import repository as repo
from bot.features.incidents.actions import GIVE_INCIDENT, GIVE_SEVERITY, GIVE_UPDATE
from bot.features.incidents.clocks import clock_rows
from bot.features.incidents.export import export_incident, parse_ref, render_markdown
from bot.features.incidents.intake import Intake
from bot.features.incidents.models import OPEN_STATUSES, SEVERITIES
from bot.features.incidents.service import ref
from bot.features.incidents.severity import label as severity_label
from bot.messaging import md
from bot.services import Services

log = logging.getLogger(__name__)

PIN_KEYS = ("📌", "📍")
PRIVATE_ROOMS = (RoomKind.TRIAGE, RoomKind.DIRECT)


def require_private(ctx: CommandContext, command: str) -> None:
    """Incident text is shown only in the triage room or a DM, never the public room."""
    if ctx.message.room_kind not in PRIVATE_ROOMS:
        raise UserError(
            f"`{{prefix}}{command}` shows incident details: ask in the triage room or a DM "
            "with me.",
        )


class IncidentKind:
    """``INC-<n>`` for the shared ``!show``/``!assign``/``!status``/``!note``."""

    prefix = "INC"
    label = "incident"

    async def exists(self, session: AsyncSession, number: int) -> bool:
        return await repo.get_incident(session, number=number) is not None

    async def show(self, ctx: CommandContext, number: int) -> Reply:
        require_private(ctx, "show")
        incident = await actions.load(ctx.session, number)
        events = await repo.timeline(ctx.session, incident_id=number)
        clocks = await clock_rows(ctx.session, number)
        return Reply(render_markdown(incident, events, clocks=clocks))

    async def assign(self, ctx: CommandContext, number: int, user_id: str) -> Reply:
        return await actions.assign(act_of(ctx), number, user_id)

    async def set_status(self, ctx: CommandContext, number: int, state: str, rest: str) -> Reply:
        return await actions.set_status(act_of(ctx), number, state, rest)

    async def reporter_status(self, ctx: CommandContext, number: int) -> Reply:
        """``!status INC-N`` asked by someone outside the team: only their own incident."""
        return await loop_handlers.reporter_status(ctx, number)

    async def note(self, ctx: CommandContext, number: int, text: str) -> Reply:
        return await actions.note(act_of(ctx), number, text)


def _number(ref: str | None) -> int:
    number = parse_ref(ref) if ref else None
    if number is None:
        raise UsageError(GIVE_INCIDENT)
    return number


def register(router: Router, intake: Intake) -> None:
    """Add the incident commands, the intake interceptor and the 📌 reaction handler."""
    team = Permission.SECURITY_TEAM
    group = "Incidents"
    router.command(
        "incident",
        summary="Report a security incident (guided, in a private chat)",
        usage="incident [type what-happened]",
        group=group,
    )(intake.start)
    router.intercept("incident-intake", intake.intercept, outcome="intake")
    router.intercept("incident-thread", record_thread_message)
    router.on_reaction(on_pin)

    scope = Arg("scope", optional=True, choices=("open", "all"), invalid="Say open or all.")
    router.command(
        "incidents", summary="List incidents", usage="incidents [open|all]", permission=team,
        group=group, args=(scope,), extra=IGNORED,
    )(incidents)  # fmt: skip

    router.command(
        "ack", summary="Acknowledge an incident (stops escalation)", usage="ack INC-N",
        permission=team, group=group, args=(Arg("incident", missing=GIVE_INCIDENT),),
    )(ack)  # fmt: skip

    router.command(
        "sev", summary="Set an incident's severity", usage="sev INC-N <low|medium|high|critical>",
        permission=team, group=group,
        args=(Arg("incident", missing=GIVE_SEVERITY), Arg("severity", missing=GIVE_SEVERITY)),
    )(sev)  # fmt: skip

    # Team commands: the triage-room-or-DM refusal comes before any usage error.
    give_update = GIVE_UPDATE
    router.command(
        "update", summary="Send the reporter an update (kept in the timeline)",
        usage="update INC-N <text>", permission=team, group=group,
        args=(Arg("incident", missing=give_update), Arg("text", ArgKind.TEXT, missing=give_update)),
    )(update)  # fmt: skip

    router.command(
        "export", summary="Markdown report of an incident (for the review)",
        usage="export INC-N", permission=team, group=group,
        args=(Arg("incident", missing=GIVE_INCIDENT),), extra=IGNORED,
    )(export)  # fmt: skip


async def incidents(ctx: CommandContext) -> Reply:
    require_private(ctx, "incidents")
    scope = ctx.params["scope"] or "open"
    rows = await repo.list_incidents(ctx.session, open_only=scope == "open")
    if not rows:
        return Reply("No open incidents." if scope == "open" else "No incidents yet.")
    lines = [
        md.escape(
            f"{ref(i.id)} [{i.status}] {i.type_name}, severity {severity_label(i)}, "
            f"reported {i.created_at:%Y-%m-%d %H:%M} by {i.reporter}"
            + (f", assigned {i.assignee}" if i.assignee else "")
        )
        for i in rows
    ]
    return Reply("\n".join(lines))


async def ack(ctx: CommandContext) -> Reply:
    """``!ack INC-N``: stops the escalation; the reporter hears it."""
    return await actions.acknowledge(act_of(ctx), _number(ctx.params["incident"]))


async def sev(ctx: CommandContext) -> Reply:
    """``!sev INC-N <low|medium|high|critical>``."""
    if ctx.params["severity"].lower() not in SEVERITIES:
        raise UsageError(GIVE_SEVERITY)
    number = _number(ctx.params["incident"])
    return await actions.set_severity(act_of(ctx), number, ctx.params["severity"])


async def update(ctx: CommandContext) -> Reply:
    # Its answer names the reporter: never in the public room.
    require_private(ctx, "update")
    number = _number(ctx.params["incident"])
    return await actions.update(act_of(ctx), number, ctx.params["text"])


async def export(ctx: CommandContext) -> Reply:
    require_private(ctx, "export")
    number = _number(ctx.params["incident"])
    report = await export_incident(ctx.session, number, by=ctx.sender, now=ctx.now)
    if report is None:
        raise UserError(f"There is no incident {ref(number)}.")
    return Reply(md.code_block(report))


async def record_thread_message(ctx: CommandContext) -> Reply | None:
    """Keep triage-room messages that answer an incident post, so 📌 can pin them.

    A message counts when it is in the thread of an incident's triage post, or replies
    to that post or to a message already kept. Never consumes the message.
    """
    msg = ctx.message
    if msg.room_kind is not RoomKind.TRIAGE:
        return None
    for target in (msg.thread_root, msg.in_reply_to):
        if not target:
            continue
        incident = await repo.incident_for_event(ctx.session, event_id=target)
        incident_id = incident.id if incident else None
        if incident_id is None:
            kept = await repo.get_message(ctx.session, event_id=target)
            incident_id = kept.incident_id if kept else None
        if incident_id is not None:
            await repo.add_message(
                ctx.session,
                event_id=msg.event_id,
                incident_id=incident_id,
                sender=msg.sender,
                body=msg.body,
                at=msg.timestamp,
            )
            return None
    return None


async def on_pin(reaction: Reaction, session: AsyncSession, services: Services) -> None:
    """📌 on an incident post, a kept thread message or a bot message adds it to the timeline."""
    if reaction.room_kind is not RoomKind.TRIAGE or not reaction.key.startswith(PIN_KEYS):
        return None
    if not services.is_security_team(reaction.sender):
        return None
    target = reaction.target_event_id
    kept = await repo.get_message(session, event_id=target)
    if kept is not None:
        incident_id, text = kept.incident_id, f"{kept.sender}: {kept.body}"
    else:
        incident = await repo.incident_for_event(session, event_id=target)
        body = await repo.post_body(session, incident=incident) if incident else None
        if incident is None or body is None:
            return None
        incident_id, text = incident.id, f"(bot post) {body}"
    if await repo.has_event_from(session, incident_id=incident_id, source_event_id=target):
        return None
    await repo.add_event(
        session,
        incident_id=incident_id,
        at=reaction.timestamp,
        author=reaction.sender,
        kind="pinned",
        text=text,
        source_event_id=target,
    )
    log.info("pinned a message to INC-%d", incident_id)
    return None


__all__ = ["OPEN_STATUSES", "IncidentKind", "register"]
