"""Reporting an incident: the guided intake in a DM and the one-shot ``!incident`` form.

The incident is filed as soon as the type is known (see ``intake_incident.py``); the
intake's state (step, answers, incident id) lives in ``incident_intakes``, so a restart
of the bot resumes it; it expires after ``incidents.intake_timeout`` without an answer.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.commands.context import CommandContext, Outbound, Reply, RoomKind
from bot.features.incidents import guard, intake_incident, service
from bot.features.incidents import repository as repo
from bot.features.incidents.intake_questions import (
    CANCEL_WORDS,
    QUESTIONS,
    first_steps_text,
    next_step,
    question_for,
    read_answer,
    thanks_text,
    type_question,
)
from bot.features.incidents.models import IncidentIntake
from bot.features.incidents.playbooks import Playbook, Playbooks
from bot.messaging import md

log = logging.getLogger(__name__)


class Intake:
    """The ``!incident`` command and the DM conversation that follows it."""

    def __init__(self, playbooks: Playbooks):
        self.playbooks = playbooks

    # -- !incident ----------------------------------------------------------------

    async def start(self, ctx: CommandContext) -> Reply:
        """``!incident`` (guided) or ``!incident <type> <what happened>`` (one shot)."""
        guard.count_report(ctx.services, ctx.sender)
        if ctx.args.strip():
            return await self.one_shot(ctx)
        await self._end_previous(ctx)
        await self._save(ctx, "type", {}, None)
        log.info("incident intake started")
        question = type_question(self.playbooks)
        if ctx.message.is_direct:
            return Reply("Let's report it. " + question)
        ctx.send(Outbound("Let's report it, privately. " + question, dm_user_id=ctx.sender))
        return Reply(
            "I've sent you a private message to take the report. "
            "Please answer me there (accept my invite if needed)."
        )

    async def one_shot(self, ctx: CommandContext) -> Reply:
        args = ctx.args.strip()
        first, _, rest = args.partition(" ")
        playbook = self.playbooks.match(first)
        summary = rest.strip()
        if playbook is None:
            # "I clicked a phishing link": find the type in the text, else file it as other.
            playbook = self.playbooks.match(args) or self.playbooks.get("other")
            summary = args
        if playbook is None:
            playbook = self.playbooks.types[-1]
        if not summary:
            # Only a type: file it now and continue as a guided intake from "what happened".
            await self._end_previous(ctx)
            text, number = await self._open(ctx, playbook)
            if ctx.message.is_direct:
                return Reply(text)
            ctx.send(Outbound(text, dm_user_id=ctx.sender))
            return Reply(
                f"Thank you — filed as {service.ref(number)}; the security team is alerted. "
                "I've sent you the first steps and a few questions in a private message."
            )
        # A whole report at once replaces an intake in progress too, or the reporter's
        # next message would be taken as an answer to the old intake's question.
        await self._end_previous(ctx)
        await repo.delete_intake(ctx.session, user_id=ctx.sender)
        return await self._file(ctx, playbook, {"what": summary})

    async def _file(self, ctx: CommandContext, playbook: Playbook, answers: dict) -> Reply:
        """File a whole report at once (the one-shot form)."""
        merged = await guard.merge_target(
            ctx.session, ctx.services.settings.incidents, **_who(ctx), type_key=playbook.key
        )
        if merged is not None:
            text = await guard.merge_report(
                ctx.session,
                merged,
                playbook.name,
                answers["what"],
                **_who(ctx),
                source_event_id=ctx.message.event_id,
            )
            if not ctx.message.is_direct:
                ctx.send(Outbound(text, dm_user_id=ctx.sender))
                return Reply(f"Added to your open report {service.ref(merged.id)}.")
            return Reply(text)
        filed = await service.file_incident(
            ctx.services,
            ctx.session,
            reporter=ctx.sender,
            playbook=playbook,
            summary=answers["what"],
            occurred=answers.get("when"),
            affected=answers.get("affected"),
            severity=answers.get("severity"),
            now=ctx.now,
            source_event_id=ctx.message.event_id,
        )
        thanks = thanks_text(filed.incident.id, filed.paged, ctx.services.rooms.triage is not None)
        steps = first_steps_text(playbook)
        if ctx.message.is_direct:
            if "type" in answers:  # an intake from before early filing showed the steps
                return Reply(thanks)
            return Reply(f"{steps}\n\n{thanks}")
        # Filed from a room: first steps and thanks privately; a short answer here.
        ctx.send(Outbound(f"{steps}\n\n{thanks}", dm_user_id=ctx.sender))
        return Reply(
            f"Thank you — filed as {service.ref(filed.incident.id)}; the security team is "
            "alerted. I've sent you what to do right now in a private message."
        )

    async def _open(self, ctx: CommandContext, playbook: Playbook) -> tuple[str, int]:
        """The type is known: file the incident, alert the team, give the first steps.

        Returns:
            The reporter's message (Markdown) and the incident number.
        """
        merged = await guard.merge_target(
            ctx.session, ctx.services.settings.incidents, **_who(ctx), type_key=playbook.key
        )
        if merged is not None:
            note = await guard.merge_report(
                ctx.session,
                merged,
                playbook.name,
                "",
                **_who(ctx),
                source_event_id=ctx.message.event_id,
            )
            await self._save(ctx, "what", {"type": playbook.key}, merged.id)
            steps = first_steps_text(playbook)
            question = QUESTIONS["what"]
            return f"{steps}\n\n{md.escape(note)}\n\n{md.escape(question)}", merged.id
        filed = await intake_incident.open_incident(
            ctx.services, ctx.session, reporter=ctx.sender, playbook=playbook, now=ctx.now
        )
        number = filed.incident.id
        await self._save(ctx, "what", {"type": playbook.key}, number)
        steps = first_steps_text(playbook)
        thanks = thanks_text(
            number, filed.paged, ctx.services.rooms.triage is not None, more_questions=True
        )
        question = QUESTIONS["what"]
        return f"{steps}\n\n{thanks}\n\n{md.escape(question)}", number

    async def _save(
        self, ctx: CommandContext, step: str, answers: dict, incident_id: int | None
    ) -> None:
        await repo.save_intake(
            ctx.session,
            user_id=ctx.sender,
            step=step,
            answers=answers,
            now=ctx.now,
            expires_at=ctx.now + ctx.services.settings.incidents.intake_timeout,
            incident_id=incident_id,
        )

    async def _end_previous(self, ctx: CommandContext) -> None:
        """A new ``!incident`` replaces an intake in progress; its incident is kept."""
        previous = await repo.get_intake(ctx.session, user_id=ctx.sender)
        if previous is None or previous.incident_id is None:
            return
        incident = await repo.get_incident(ctx.session, number=previous.incident_id)
        if incident is not None:
            await intake_incident.end_intake(
                ctx.services, ctx.session, incident, "replaced", now=ctx.now
            )

    # -- the conversation -----------------------------------------------------------

    async def intercept(self, ctx: CommandContext) -> Reply | None:
        """Answer the next intake question, if ``ctx.sender`` has an intake under way."""
        if ctx.message.room_kind is not RoomKind.DIRECT:
            return None
        intake = await repo.get_intake(ctx.session, user_id=ctx.sender)
        if intake is None:
            return None
        number = intake.incident_id
        if intake.expires_at <= ctx.now:
            return await self._expired(ctx, number)
        answer = ctx.message.body.strip()
        word = answer.lower().lstrip(ctx.services.settings.bot.command_prefix).strip()
        if word in CANCEL_WORDS:
            return await self._cancel(ctx, number)
        if intake.step == "type":
            playbook = self.playbooks.match(answer)
            if playbook is None:
                return Reply("I didn't recognise that type. " + type_question(self.playbooks))
            text, _ = await self._open(ctx, playbook)
            return Reply(text)
        value, problem = read_answer(intake.step, answer, word)
        if problem is not None:
            return Reply(problem)
        return await self._record(ctx, intake, value)

    async def _record(
        self, ctx: CommandContext, intake: IncidentIntake, value: str | None
    ) -> Reply:
        """Keep the answer, then ask the next question or end the intake."""
        number, step = intake.incident_id, intake.step
        answers = dict(intake.answers)
        if value is not None:
            answers[step] = value
        incident = await repo.get_incident(ctx.session, number=number) if number else None
        playbook = self.playbooks.get(str(answers.get("type", "")))
        paged: list[str] = []
        if incident is not None:
            paged = await intake_incident.add_answer(
                ctx.services, ctx.session, incident, step, value, by=ctx.sender, now=ctx.now,
                playbook=playbook, source_event_id=ctx.message.event_id,
            )  # fmt: skip
        if paged:
            answers["paged"] = sorted(set(answers.get("paged", [])) | set(paged))
        following = next_step(step, playbook)
        if following is not None:
            await self._save(ctx, following, answers, number)
            return Reply(question_for(following, playbook, paged))
        await repo.delete_intake(ctx.session, user_id=ctx.sender)
        if incident is None:
            # An intake begun before incidents were filed at the type: file it now.
            playbook = self.playbooks.get(answers["type"]) or self.playbooks.types[-1]
            return await self._file(ctx, playbook, answers)
        paged = sorted(set(paged) | set(answers.get("paged", [])))
        await intake_incident.end_intake(
            ctx.services, ctx.session, incident, "completed", now=ctx.now, paged=paged
        )
        return Reply(intake_incident.done_text(incident.id, paged))

    async def _cancel(self, ctx: CommandContext, number: int | None) -> Reply:
        await repo.delete_intake(ctx.session, user_id=ctx.sender)
        log.info("incident intake cancelled")
        incident = await repo.get_incident(ctx.session, number=number) if number else None
        if incident is None:
            return Reply(
                "Cancelled: nothing was filed. Send `{prefix}incident` whenever you need to.",
            )
        await intake_incident.end_intake(
            ctx.services, ctx.session, incident, "cancelled", now=ctx.now
        )
        ref = service.ref(incident.id)
        return Reply(
            f"Stopped: no more questions. Your report {ref} stays with the security team — "
            "they were alerted as soon as you told me the type, so they already know about "
            "it and may contact you here. If it was a false alarm, tell them when they do. "
            "Send `{prefix}incident` to report something new.",
        )

    async def _expired(self, ctx: CommandContext, number: int | None) -> Reply:
        settings = ctx.services.settings.incidents
        minutes = int(settings.intake_timeout.total_seconds() // 60)
        deleted = await repo.delete_intake(ctx.session, user_id=ctx.sender, expired_at=ctx.now)
        incident = await repo.get_incident(ctx.session, number=number) if number else None
        if incident is None:
            return Reply(
                f"Your unfinished incident report timed out after {minutes} minutes without an "
                "answer, so nothing was filed. Send `{prefix}incident` to start again.",
            )
        if deleted:  # else the expiry job ended it (and told the team) a moment ago
            await intake_incident.end_intake(
                ctx.services, ctx.session, incident, "expired", now=ctx.now
            )
        return Reply(intake_incident.expired_text(incident.id, minutes))


def _who(ctx: CommandContext) -> dict[str, Any]:
    """The reporter and the time, as the guard's functions take them."""
    return {"reporter": ctx.sender, "now": ctx.now}
