"""Commands that close the loop: ``!lead``, ``!merge``, ``!clock``, and a reporter's ``!status``."""

from __future__ import annotations

from collections.abc import Iterable

from bot.commands.context import CommandContext, Outbound, Reply, RoomKind
from bot.commands.errors import UsageError, UserError
from bot.commands.registry import Arg, ArgKind
from bot.commands.router import Permission, Router
from bot.features.incidents import reporter, roles
from bot.features.incidents import repository as repo
from bot.features.incidents.clocks import clock_rows, clock_summary, mark_met, start_clocks
from bot.features.incidents.models import Incident
from bot.features.incidents.service import ref
from bot.ids import INCIDENT, CaseRef
from bot.messaging import md

GIVE_INCIDENT = "Give an incident id like INC-12."
BOTH = "Give the duplicate and the incident to merge it into."


async def _load(ctx: CommandContext, number: int) -> Incident:
    incident = await repo.get_incident(ctx.session, number=number)
    if incident is None:
        raise UserError(f"There is no incident {ref(number)}.")
    return incident


async def reporter_status(ctx: CommandContext, number: int) -> Reply:
    """``!status INC-N`` by its reporter: the state, never notes or other people's words."""
    if ctx.message.room_kind is not RoomKind.DIRECT:
        # Who reported what stays out of shared rooms.
        raise UserError("Ask me about your reports in a direct message.")
    incident = await repo.get_incident(ctx.session, number=number)
    if incident is None or incident.reporter != ctx.sender:
        # The same answer whether it does not exist or is someone else's.
        raise UserError(f"You have no incident {ref(number)}. You can ask about your own reports.")
    target = await reporter.final_target(ctx.session, incident)
    return Reply(reporter.status_text(incident, target, ctx.now))


async def merge(ctx: CommandContext, dup: Incident, target: Incident) -> Incident:
    """Merge the duplicate ``dup`` into ``target``; returns the incident it ended in."""
    final = await reporter.final_target(ctx.session, target)
    if final.id == dup.id:
        raise UserError(f"{ref(target.id)} is itself merged into {ref(dup.id)}.")
    dup.merged_into = final.id
    dup.status = "closed"
    await repo.add_event(
        ctx.session, incident_id=dup.id, at=ctx.now, author=ctx.sender, kind="merged",
        text=f"Merged into {ref(final.id)} (duplicate report)",
    )  # fmt: skip
    await repo.add_event(
        ctx.session, incident_id=final.id, at=ctx.now, author=ctx.sender, kind="merged",
        text=f"{ref(dup.id)} merged in (reported by {dup.reporter})",
    )  # fmt: skip
    # Duplicates merged into dup follow it.
    for other in await reporter.merged_into(ctx.session, dup.id):
        if other.merged_into == dup.id:
            other.merged_into = final.id
    text = (
        f"Your report {ref(dup.id)} is the same incident as one the team is already handling "
        f"({ref(final.id)}); it was merged there. You will hear the outcome when it closes."
    )
    ctx.send(Outbound(text, dm_user_id=dup.reporter))
    return final


def _incident(arg: str, missing: str = GIVE_INCIDENT) -> Arg:
    return Arg(arg, ArgKind.CASE, missing=missing, invalid=GIVE_INCIDENT)


def _number_of(case: CaseRef) -> int:
    if case.kind not in (None, INCIDENT):
        raise UsageError(GIVE_INCIDENT)
    return case.number


async def lead(ctx: CommandContext) -> Reply:
    """``!lead INC-N [@user]``: who leads it, or hand it over."""
    incident = await _load(ctx, _number_of(ctx.params["incident"]))
    n = ref(incident.id)
    p = ctx.services.settings.bot.command_prefix
    user = ctx.params["user"]
    if user is None:
        return Reply(
            f"{n} is led by {md.escape(incident.lead)}."
            if incident.lead
            else f"{n} has no lead yet: the first to `{p}ack` it leads, or `{p}lead {n} @user`."
        )
    if user == incident.lead:
        return Reply(f"{md.escape(user)} already leads {n}.")
    old = await roles.set_lead(ctx.session, incident, user, by=ctx.sender, now=ctx.now)
    if user != ctx.sender:
        ctx.send(
            Outbound(
                f"You now lead incident {n} ({md.escape(incident.type_name)}), handed over by "
                f"{md.escape(ctx.sender)}. See it with `{p}show {n}` in the triage room.",
                dm_user_id=user,
            )
        )
    return Reply(f"{md.escape(user)} now leads {n}" + (f" (was {md.escape(old)})." if old else "."))


async def merge_cmd(ctx: CommandContext) -> Reply:
    """``!merge INC-M INC-N``: the duplicate M into N."""
    dup = await _load(ctx, _number_of(ctx.params["duplicate"]))
    target = await _load(ctx, _number_of(ctx.params["incident"]))
    if dup.id == target.id:
        raise UserError("An incident cannot be merged into itself.")
    if dup.merged_into is not None:
        raise UserError(f"{ref(dup.id)} is already merged into {ref(dup.merged_into)}.")
    final = await merge(ctx, dup, target)
    return Reply(f"{ref(dup.id)} merged into {ref(final.id)}; its reporter will hear the outcome.")


async def clock(ctx: CommandContext) -> Reply:
    """``!clock INC-N [<name> | met <name>]``: list, start, or record a clock met."""
    names = _clock_names(ctx.services.settings.incidents.clocks)
    incident = await _load(ctx, _number_of(ctx.params["incident"]))
    n = ref(incident.id)
    verb = (ctx.params["clock"] or "").lower()
    if not verb:
        rows = await clock_rows(ctx.session, incident.id)
        return Reply("\n".join(clock_summary(rows)) if rows else f"{n} has no clocks running.")
    if verb == "met":
        name = (ctx.params["name"] or "").lower()
        if not name:
            raise UsageError("Which clock was met?")
        if not await mark_met(ctx.session, incident.id, name, by=ctx.sender, now=ctx.now):
            raise UserError(f"{n} has no open {md.escape(name)} clock.")
        return Reply(f"Recorded: {md.escape(name)} met for {n}.")
    if verb not in ctx.services.settings.incidents.clocks:
        raise UserError(f"I don't know the clock {md.escape(repr(verb))}; configured: {names}.")
    started = await start_clocks(
        ctx.services, ctx.session, incident, verb, by=ctx.sender, now=ctx.now
    )
    if not started:
        return Reply(f"The {md.escape(verb)} clock is already running for {n}.")
    return Reply(
        f"Started for {n} (from now, the moment of awareness):\n"
        + "\n".join(clock_summary(started))
    )


def _clock_names(clocks: Iterable[str]) -> str:
    return ", ".join(sorted(clocks)) or "none configured"


def register(router: Router, clocks: Iterable[str]) -> None:
    """Add ``!lead``, ``!merge`` and ``!clock`` (security team; ``clocks``: their names)."""
    team = Permission.SECURITY_TEAM
    group = "Incidents"
    lead_of = _incident("incident", "Give an incident id and, to hand over, a user id.")
    handover = Arg("user", ArgKind.USER, optional=True, invalid="Give a user id like @name:server.")
    router.command(
        "lead", summary="Show or hand over an incident's lead (incident commander)",
        usage="lead INC-N [@user]", permission=team, group=group,
        args=(lead_of, handover),
    )(lead)  # fmt: skip
    router.command(
        "merge", summary="Merge a duplicate report into an incident (reporters hear the end)",
        usage="merge INC-M INC-N", permission=team, group=group,
        args=(_incident("duplicate", BOTH), _incident("incident", BOTH)),
    )(merge_cmd)  # fmt: skip
    give_clock = f"Give an incident id and a clock ({_clock_names(clocks)})."
    router.command(
        "clock", summary="Start a regulatory clock (e.g. gdpr), or record it met",
        usage="clock INC-N <name> | clock INC-N met <name>", permission=team, group=group,
        # A third word only counts after "met" ("!clock INC-1 gdpr now" starts gdpr).
        args=(_incident("incident", give_clock), Arg("clock", optional=True),
              Arg("name", optional=True)),
        extra=give_clock,
    )(clock)  # fmt: skip
