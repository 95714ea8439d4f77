"""Incident logic: filing, paging, acknowledgement and severity (escalation: escalation.py).

Messages that must go out exactly once (the triage-room post, pages, escalations) are
posted with :meth:`Messenger.post` under stable keys (``incident:<n>:post``,
``escalate:<n>:<level>``...) in the caller's transaction, so a retry never repeats them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents import repository as repo
from bot.features.incidents import severity as sev
from bot.features.incidents.models import SEVERITIES, Incident
from bot.features.incidents.playbooks import Playbook
from bot.ids import CaseRef
from bot.messaging import (
    InThread,
    Message,
    Messenger,
    ReplyTo,
    Subject,
    Target,
    ToPerson,
    ToRoom,
)
from bot.messaging.md import escape, mention
from bot.services import Services

log = logging.getLogger(__name__)

PAGE_SEVERITIES = ("high", "critical")


def ref(number: int) -> str:
    return str(CaseRef.incident(number))


@dataclass(frozen=True)
class Filed:
    incident: Incident
    paged: list[str]  # user ids paged (mentioned and DMed)


def oncall(services: Services, now: datetime) -> list[str]:
    """The on-call at ``now``: ``[primary, backup, ...]`` (rotation time zone, change-over)."""
    return services.settings.incidents.oncall_at(now)


def needs_page(severity: str | None, playbook_urgent: bool) -> bool:
    """High/critical incidents page; so do unrated ones of a type flagged urgent."""
    if severity is None:
        return playbook_urgent
    return severity in PAGE_SEVERITIES or playbook_urgent


async def post(
    services: Services,
    session: AsyncSession,
    key: str,
    body: str,
    *,
    room_id: str | None = None,
    dm_user_id: str | None = None,
    mentions: tuple[str, ...] = (),
    thread_root: str | None = None,
    in_reply_to: str | None = None,
    subject: Subject | None = None,
) -> str:
    """Queue one Markdown message under the key ``key`` (once, whatever retries happen).

    ``{prefix}`` in ``body`` becomes the command prefix (``body``'s user parts are
    escaped, so no user text can contain it as a placeholder).
    """
    to: Target
    if dm_user_id is not None:
        to = ToPerson(dm_user_id)
    elif thread_root is not None:
        assert room_id is not None
        to = InThread(room_id, thread_root)
    elif in_reply_to is not None:
        assert room_id is not None
        to = ReplyTo(room_id, in_reply_to)
    else:
        assert room_id is not None
        to = ToRoom(room_id)
    body = body.replace("{prefix}", services.settings.bot.command_prefix)
    message = Message(body, to=to, key=key, mentions=mentions, subject=subject, notice=True)
    return await Messenger.post(session, message)


async def file_incident(
    services: Services,
    session: AsyncSession,
    *,
    reporter: str,
    playbook: Playbook,
    summary: str,
    occurred: str | None,
    affected: str | None,
    severity: str | None,
    now: datetime,
    details_pending: bool = False,
    source_event_id: str | None = None,
) -> Filed:
    """Record an incident, post it in the triage room and page the on-call if needed.

    Args:
        details_pending: filed by the guided intake as soon as the type is known; the
            reporter's answers follow (``summary`` is empty until then).
    """
    given = severity
    severity, why = sev.initial(playbook, given, summary)
    incident = await repo.create_incident(
        session,
        type_key=playbook.key,
        type_name=playbook.name,
        summary=summary,
        occurred=occurred,
        affected=affected,
        severity=severity,
        reporter=reporter,
        first_steps=list(playbook.first_steps),
        created_at=now,
    )
    n = incident.id
    log.info("incident %s filed (type %s, %d chars)", ref(n), playbook.key, len(summary))
    await repo.add_event(
        session,
        incident_id=n,
        at=now,
        author=reporter,
        kind="reported",
        text=f"Reported ({playbook.name}, severity {severity}: {why}); "
        f"{len(playbook.first_steps)} first steps given"
        + ("; the details follow from the guided intake" if details_pending else ""),
        # A one-shot report's message: redacting it erases the summary (see retention).
        source_event_id=source_event_id,
    )
    page = needs_page(severity, playbook.urgent and given is None)
    targets = oncall(services, now)[:1] if page else []
    lines = [
        f"🚨 **New incident {ref(n)}**: {escape(playbook.name)} — severity "
        f"{escape(sev.label(incident))}",
        f"Reported by {mention(reporter)}",
        "",
    ]
    if details_pending:
        lines += ["The reporter is answering my questions now; the details follow in this thread."]
    else:
        lines += [
            f"- What happened: {escape(summary)}",
            f"- When: {escape(occurred or '—')}",
            f"- Affected: {escape(affected or '—')}",
        ]
    if targets:
        lines += ["", "Paging on-call: " + ", ".join(mention(u) for u in targets)]
    elif page:
        lines += ["", "⚠ This needs a page but no on-call is configured (incidents.oncall)."]
    lines += ["", f"Acknowledge with `{{prefix}}ack {ref(n)}`; reply in this thread to discuss."]
    if services.rooms.triage:
        incident.triage_txn_id = await post(
            services,
            session,
            f"incident:{n}:post",
            "\n".join(lines),
            room_id=services.rooms.triage,
            mentions=tuple(targets),
            subject=Subject("incident", n, "post"),
        )
    if page:
        await _page(services, session, incident, targets, now)
    if playbook.clocks:
        from bot.features.incidents.clocks import start_clocks

        for name in playbook.clocks:
            await start_clocks(services, session, incident, name, by=None, now=now)
    return Filed(incident, targets)


async def _page(
    services: Services, session: AsyncSession, incident: Incident, targets: list[str], now: datetime
) -> None:
    """Page ``targets`` by DM (one outbox key per incident and user) and note it."""
    incident.paged_at = now
    for user in targets:
        await page_dm(services, session, incident, user, f"incident:{incident.id}:page:{user}")
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=None,
        kind="paged",
        text=f"Paged on-call {', '.join(targets)}" if targets else "No on-call to page",
    )


async def page_dm(
    services: Services, session: AsyncSession, incident: Incident, user: str, key: str
) -> None:
    n = ref(incident.id)
    # Paged the moment the type is known, the reporter may not have said more yet.
    what = incident.summary or (
        "not told yet: the reporter is still answering; the details follow in the triage "
        "room, in the thread of the incident post."
    )
    body = (
        f"🚨 You are on call: incident **{n}** ({escape(incident.type_name)}, severity "
        f"{escape(sev.label(incident))}) reported by {mention(incident.reporter)}.\n"
        f"What happened: {escape(what)}\n"
        f"Acknowledge with `{{prefix}}ack {n}` (here or in the triage room)."
    )
    await post(services, session, key, body, dm_user_id=user, mentions=(user,))


async def acknowledge(session: AsyncSession, incident: Incident, *, by: str, now: datetime) -> bool:
    """Mark acknowledged (stops escalation). Returns False if it already was.

    A compare-and-set on ``acked_at``: of an acknowledgement and an escalation tick that
    race, exactly one changes the row, so no page follows "escalation stopped".
    """
    if not await repo.claim_ack(session, number=incident.id, by=by, now=now):
        await session.refresh(incident)
        return False
    await session.refresh(incident)
    if incident.status == "reported":
        incident.status = "acknowledged"
    if incident.lead is None:
        incident.lead = by  # the first acknowledger leads until someone hands over
    await repo.add_event(
        session, incident_id=incident.id, at=now, author=by, kind="ack", text="Acknowledged"
    )
    return True


async def raise_severity(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    severity: str,
    *,
    why: str,
    by: str | None,
    now: datetime,
) -> list[str]:
    """Raise an unrated incident's severity (signals, the reporter); never lowers it.

    Returns:
        The users paged now (empty if none).
    """
    if incident.severity_set_by is not None or sev.rank(severity) <= sev.rank(incident.severity):
        return []
    old = incident.severity
    incident.severity = severity
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=by,
        kind="severity",
        text=f"Severity {old or 'unset'} → {severity} ({why})",
    )
    paged = await _page_if_needed(services, session, incident, now)
    if services.rooms.triage:
        text = f"⏫ {ref(incident.id)}: severity {old or 'unset'} → {severity} ({escape(why)})."
        if paged:
            text += " Paging on-call: " + ", ".join(mention(u) for u in paged)
        await post(
            services,
            session,
            f"incident:{incident.id}:raised:{severity}",
            text,
            room_id=services.rooms.triage,
            mentions=tuple(paged),
            thread_root=await repo.post_event_id(session, incident=incident),
        )
    return paged


async def _page_if_needed(
    services: Services, session: AsyncSession, incident: Incident, now: datetime
) -> list[str]:
    if incident.severity not in PAGE_SEVERITIES or incident.paged_at is not None:
        return []
    if incident.acked_at is not None:
        return []  # someone is on it already
    targets = oncall(services, now)[:1]
    await _page(services, session, incident, targets, now)
    return targets


async def set_severity(
    services: Services,
    session: AsyncSession,
    incident: Incident,
    severity: str,
    *,
    by: str,
    now: datetime,
) -> list[str]:
    """Change the severity; raising it to high/critical pages the on-call if not paged yet.

    Returns:
        The users paged now (empty if none).
    """
    assert severity in SEVERITIES
    old = incident.severity
    incident.severity = severity
    incident.severity_set_by = by
    await repo.add_event(
        session,
        incident_id=incident.id,
        at=now,
        author=by,
        kind="severity",
        text=f"Severity {old or 'unset'} → {severity}",
    )
    return await _page_if_needed(services, session, incident, now)
