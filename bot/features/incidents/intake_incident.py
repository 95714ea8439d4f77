"""The incident behind a guided intake: filed when the type is known, then filled in.

Minutes matter, so the guided intake files the incident (triage-room post, on-call page)
the moment the reporter names the type, and adds each later answer to it. When the
intake ends — completed, cancelled, timed out, or replaced by a new ``!incident`` — the
team gets one short update in the thread of the incident post (outbox key
``incident:<n>:intake-end``) and the timeline says how it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents import service
from bot.features.incidents import severity as sev
from bot.features.incidents.models import Incident
from bot.features.incidents.playbooks import Playbook
from bot.messaging.md import escape, mention
from bot.services import Services

log = logging.getLogger(__name__)

LABELS = {"what": "What happened", "when": "When", "affected": "Affected", "severity": "Severity"}
ENDINGS = {
    "completed": (
        "Reporter completed the intake",
        "the reporter answered every question",
    ),
    "cancelled": (
        "Reporter cancelled the intake",
        "the reporter cancelled the intake; what they had told me",
    ),
    "expired": (
        "Intake timed out without an answer; kept what was collected",
        "the intake timed out without an answer; what the reporter had told me",
    ),
    "replaced": (
        "Reporter started a new report; this intake ended",
        "the reporter started a new report; what they had told me for this one",
    ),
}


async def open_incident(
    services: Services,
    session: AsyncSession,
    *,
    reporter: str,
    playbook: Playbook,
    now: datetime,
) -> service.Filed:
    """File the incident as soon as its type is known (posted, paged if urgent)."""
    return await service.file_incident(
        services,
        session,
        reporter=reporter,
        playbook=playbook,
        summary="",
        occurred=None,
        affected=None,
        severity=None,
        now=now,
        details_pending=True,
    )


async def add_answer(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    step: str,
    value: str | None,
    *,
    by: str,
    now: datetime,
    playbook: Playbook | None = None,
    source_event_id: str | None = None,
) -> list[str]:
    """Add one intake answer (None: skipped) to the incident and its timeline.

    ``source_event_id`` (the reporter's message) lets a redaction of it erase the answer.

    Returns:
        The users paged because of it (a high or critical severity), else empty.
    """
    label = LABELS.get(step, step)
    if step == "severity" and value is not None:
        # The reporter may make it worse, never better: assume the worst until the team rates it.
        return await service.raise_severity(
            services, session, incident, value, why="the reporter's rating", by=by, now=now
        )
    paged: list[str] = []
    if step == "question" and playbook is not None and playbook.question:
        text = f"{playbook.question} {'yes' if value == 'yes' else value or 'skipped'}"
        await repo.add_event(
            session, incident_id=incident.id, at=now, author=by, kind="answer", text=text,
            source_event_id=source_event_id,
        )  # fmt: skip
        if value == "yes" and playbook.question_raises_to:
            paged = await service.raise_severity(
                services, session, incident, playbook.question_raises_to,
                why="the reporter answered yes to the key question", by=by, now=now,
            )  # fmt: skip
        return paged
    if step == "what" and value is not None:
        incident.summary = value
    elif step == "when":
        incident.occurred = value
    elif step == "affected":
        incident.affected = value
    text = f"{label}: {value}" if value is not None else f"{label}: skipped"
    await repo.add_event(
        session, incident_id=incident.id, at=now, author=by, kind="answer", text=text,
        source_event_id=source_event_id if value is not None else None,
    )  # fmt: skip
    log.info(
        "incident %s: %s answered (%d chars)", service.ref(incident.id), step, len(value or "")
    )
    if step == "what" and value is not None and playbook is not None:
        found = sev.signal(playbook, value)
        if found:
            paged = await service.raise_severity(
                services, session, incident, found[0],
                why=f"the report's words {found[1]!r}", by=None, now=now,
            )  # fmt: skip
    return paged


async def end_intake(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    how: str,
    *,
    now: datetime,
    paged: Sequence[str] = (),
) -> None:
    """Record how the intake ended and tell the triage room, in the post's thread, once."""
    timeline_text, headline = ENDINGS[how]
    await repo.add_event(
        session, incident_id=incident.id, at=now, author=None, kind="intake", text=timeline_text
    )
    log.info("incident %s: intake %s", service.ref(incident.id), how)
    if not services.rooms.triage:
        return
    n = service.ref(incident.id)
    fields = [
        ("What happened", incident.summary or "— (not answered)"),
        ("When", incident.occurred or "—"),
        ("Affected", incident.affected or "—"),
        ("Severity", sev.label(incident)),
    ]
    lines = [f"📝 **{n}**: {escape(headline)}:", ""]
    lines += [f"- {k}: {escape(v)}" for k, v in fields]
    if paged:
        lines += ["", "Paging on-call: " + ", ".join(mention(u) for u in paged)]
    await service.post(
        services,
        session,
        f"incident:{incident.id}:intake-end",
        "\n".join(lines),
        room_id=services.rooms.triage,
        mentions=tuple(paged),
        thread_root=await repo.post_event_id(session, incident=incident),
    )


def done_text(number: int, paged: list[str]) -> str:
    """The end of a guided intake whose incident was filed at the type question (Markdown)."""
    ref = service.ref(number)
    text = f"Thank you, that's everything: your answers are in **{ref}** and the team has them."
    if paged:
        text += " Because of the severity, I have also paged the on-call responder "
        text += ", ".join(mention(u) for u in paged) + " (by direct message)."
    return text + " They will contact you here; keep this chat open."


def expired_text(number: int, minutes: int) -> str:
    """What the reporter is told when their intake timed out after the incident was filed.

    Markdown, with ``{prefix}`` for the command prefix.
    """
    ref = service.ref(number)
    return (
        f"Your report {ref} had no answer from you for {minutes} minutes, so I stopped asking. "
        f"The security team already has {ref} with what you had told me; they may contact "
        "you here. Send `{prefix}incident` to report something new."
    )


async def expire_intakes(services: Services) -> int:
    """End the timed-out intakes whose incident was filed: timeline, triage update, DM.

    Intakes that never got a type filed nothing; the reporter's next message tells them.

    Returns:
        How many intakes were ended.
    """
    now = services.clock()
    minutes = int(services.settings.incidents.intake_timeout.total_seconds() // 60)
    ended = 0
    async with services.db.sessions.begin() as session:
        for intake in await repo.expired_intakes_with_incident(session, now=now):
            number, user = intake.incident_id, intake.user_id
            assert number is not None
            if not await repo.delete_intake(session, user_id=user, expired_at=now):
                continue  # the reporter's own message ended it first
            incident = await repo.get_incident(session, number=number)
            if incident is None:
                continue
            await end_intake(services, session, incident, "expired", now=now)
            text = expired_text(number, minutes)
            await service.post(
                services,
                session,
                f"incident:{number}:intake-expired",
                text,
                dm_user_id=user,
            )
            ended += 1
    if ended:
        services.outbox.wake()
    return ended
