"""Reporting an incident: the guided intake in a DM and the one-shot ``!incident`` form.

The intake's state (step and answers) lives in ``incident_intakes``, so a restart of
the bot resumes it; it expires after ``incidents.intake_timeout`` without an answer.
"""

from __future__ import annotations

import logging

from bot.commands.context import CommandContext, Outbound, Reply, RoomKind, escape, pill
from bot.features.incidents import repository as repo
from bot.features.incidents import service
from bot.features.incidents.models import SEVERITIES
from bot.features.incidents.playbooks import Playbook, Playbooks

log = logging.getLogger(__name__)

CANCEL_WORDS = frozenset({"cancel", "stop", "abort", "quit"})
SKIP_WORDS = frozenset({"skip", "-", "don't know", "dont know", "not sure", "unknown", "n/a"})
STEPS = ("type", "what", "when", "affected", "severity")
QUESTIONS = {
    "what": "What happened? A few sentences are enough.",
    "when": "When did it happen, roughly? (Send skip if you don't know.)",
    "affected": "What is affected: devices, accounts, keys, repositories, funds? "
    "(Send skip if unsure.)",
    "severity": "How bad does it look: low, medium, high or critical? "
    "(Send skip if you can't tell.)",
}


def type_question(playbooks: Playbooks) -> str:
    return "\n".join(
        [
            "What kind of incident is it? Answer with a number or a word:",
            *playbooks.menu(),
            "(Send cancel at any time to stop; nothing is filed until the end.)",
        ]
    )


def first_steps_text(playbook: Playbook) -> tuple[str, str]:
    """The first steps, plain and HTML."""
    plain = [f"⚠ {playbook.name} — do these now:"]
    plain += [f"{i}. {s}" for i, s in enumerate(playbook.first_steps, start=1)]
    html = f"<p>⚠ <strong>{escape(playbook.name)} — do these now:</strong></p><ol>"
    html += "".join(f"<li>{escape(s)}</li>" for s in playbook.first_steps) + "</ol>"
    return "\n".join(plain), html


def thanks_text(number: int, paged: list[str], triage: bool) -> tuple[str, str]:
    """Thank the reporter without blame and say who has been alerted."""
    who = ["the security team (in its private triage room)"] if triage else []
    who_html = list(who)
    if paged:
        who.append("the on-call responder " + ", ".join(paged) + " (by direct message)")
        who_html.append(
            "the on-call responder " + ", ".join(pill(u) for u in paged) + " (by direct message)"
        )
    alerted = " and ".join(who) or "the security team"
    alerted_html = " and ".join(who_html) or "the security team"
    ref = service.ref(number)
    plain = (
        f"Thank you — your report is {ref}. Reporting quickly is exactly the right thing to "
        f"do, and nobody will blame you for it. I have alerted {alerted}. "
        "They will contact you here; keep this chat open."
    )
    html = (
        f"<p>Thank you — your report is <strong>{ref}</strong>. Reporting quickly is exactly "
        f"the right thing to do, and nobody will blame you for it. I have alerted "
        f"{alerted_html}. They will contact you here; keep this chat open.</p>"
    )
    return plain, html


class Intake:
    """The ``!incident`` command and the DM conversation that follows it."""

    def __init__(self, playbooks: Playbooks):
        self.playbooks = playbooks

    # -- !incident ----------------------------------------------------------------

    async def start(self, ctx: CommandContext) -> Reply:
        """``!incident`` (guided) or ``!incident <type> <what happened>`` (one shot)."""
        if ctx.args.strip():
            return await self.one_shot(ctx)
        settings = ctx.services.settings.incidents
        await repo.save_intake(
            ctx.session,
            user_id=ctx.sender,
            step="type",
            answers={},
            now=ctx.now,
            expires_at=ctx.now + settings.intake_timeout,
        )
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
            # Only a type: continue as a guided intake from "what happened".
            return await self._typed_intake(ctx, playbook)
        return await self._file(ctx, playbook, {"what": summary})

    async def _typed_intake(self, ctx: CommandContext, playbook: Playbook) -> Reply:
        settings = ctx.services.settings.incidents
        await repo.save_intake(
            ctx.session,
            user_id=ctx.sender,
            step="what",
            answers={"type": playbook.key},
            now=ctx.now,
            expires_at=ctx.now + settings.intake_timeout,
        )
        steps, steps_html = first_steps_text(playbook)
        text = f"{steps}\n\n{QUESTIONS['what']}"
        html = f"{steps_html}<p>{escape(QUESTIONS['what'])}</p>"
        if ctx.message.is_direct:
            return Reply(text, html)
        ctx.send(Outbound(text, html, dm_user_id=ctx.sender))
        return Reply("I've sent you the first steps and a few questions in a private message.")

    async def _file(self, ctx: CommandContext, playbook: Playbook, answers: dict) -> Reply:
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
        )
        thanks, thanks_html = thanks_text(
            filed.incident.id, filed.paged, ctx.services.rooms.triage is not None
        )
        steps, steps_html = first_steps_text(playbook)
        if ctx.message.is_direct:
            if "type" in answers:  # the guided intake showed the first steps already
                return Reply(thanks, thanks_html)
            return Reply(f"{steps}\n\n{thanks}", steps_html + thanks_html)
        # Filed from a room: first steps and thanks privately; a short answer here.
        ctx.send(Outbound(f"{steps}\n\n{thanks}", steps_html + thanks_html, dm_user_id=ctx.sender))
        return Reply(
            f"Thank you — filed as {service.ref(filed.incident.id)}; the security team is "
            "alerted. I've sent you what to do right now in a private message."
        )

    # -- the conversation -----------------------------------------------------------

    async def intercept(self, ctx: CommandContext) -> Reply | None:
        """Answer the next intake question, if ``ctx.sender`` has an intake under way."""
        if ctx.message.room_kind is not RoomKind.DIRECT:
            return None
        intake = await repo.get_intake(ctx.session, user_id=ctx.sender)
        if intake is None:
            return None
        if intake.expires_at <= ctx.now:
            await repo.delete_intake(ctx.session, user_id=ctx.sender)
            minutes = int(ctx.services.settings.incidents.intake_timeout.total_seconds() // 60)
            return Reply(
                f"Your unfinished incident report timed out after {minutes} minutes without an "
                "answer, so nothing was filed. Send !incident to start again."
            )
        answer = ctx.message.body.strip()
        word = answer.lower().lstrip(ctx.services.settings.bot.command_prefix).strip()
        if word in CANCEL_WORDS:
            await repo.delete_intake(ctx.session, user_id=ctx.sender)
            log.info("incident intake cancelled")
            return Reply("Cancelled: nothing was filed. Send !incident whenever you need to.")
        answers = dict(intake.answers)
        step = intake.step
        reply_prefix: tuple[str, str] = ("", "")
        if step == "type":
            playbook = self.playbooks.match(answer)
            if playbook is None:
                return Reply("I didn't recognise that type. " + type_question(self.playbooks))
            answers["type"] = playbook.key
            reply_prefix = first_steps_text(playbook)
        elif step == "what":
            if word in SKIP_WORDS:
                return Reply("I need at least a sentence about what happened. " + QUESTIONS["what"])
            answers["what"] = answer
        elif step == "severity":
            if word not in SKIP_WORDS:
                severity = _severity(word)
                if severity is None:
                    return Reply("Please answer low, medium, high, critical or skip.")
                answers["severity"] = severity
        elif word not in SKIP_WORDS:  # when, affected
            answers[step] = answer
        next_step = STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else None
        if next_step is None:
            await repo.delete_intake(ctx.session, user_id=ctx.sender)
            playbook = self.playbooks.get(answers["type"]) or self.playbooks.types[-1]
            return await self._file(ctx, playbook, answers)
        settings = ctx.services.settings.incidents
        await repo.save_intake(
            ctx.session,
            user_id=ctx.sender,
            step=next_step,
            answers=answers,
            now=ctx.now,
            expires_at=ctx.now + settings.intake_timeout,
        )
        question = QUESTIONS[next_step]
        plain, html = reply_prefix
        if plain:
            return Reply(f"{plain}\n\n{question}", f"{html}<p>{escape(question)}</p>")
        return Reply(question)


def _severity(word: str) -> str | None:
    for severity in SEVERITIES:
        if word in (severity, severity[0]):
            return severity
    return {"med": "medium", "crit": "critical", "bad": "high", "very bad": "critical"}.get(word)
