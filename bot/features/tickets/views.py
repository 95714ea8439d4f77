"""Long views of a ticket: the team's ``!show`` and the reporter's own view.

Plain text only: the reply's HTML is the escaped text with its line breaks (see Reply).
"""

from __future__ import annotations

from datetime import datetime

from bot.commands.context import Reply
from bot.features.tickets import texts
from bot.features.tickets.models import Ticket, TicketComment, TicketEvent

_FILED_IN = {"direct": "a direct message", "helpdesk": "the helpdesk room"}


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _comment_line(ticket: Ticket, c: TicketComment, *, for_team: bool) -> str:
    text = c.text if c.text is not None else "(text purged)"
    if c.kind == "comment":
        who = "reporter" if ticket.anonymous or c.author is None else f"reporter {c.author}"
        return f"{_when(c.created_at)} {who}: {text}"
    if c.kind == "reply":
        who = c.author if for_team else f"security team ({c.author})"
        return f"{_when(c.created_at)} {who} → reporter: {text}"
    return f"{_when(c.created_at)} {c.author} (internal note): {text}"


def team_view(ticket: Ticket, comments: list[TicketComment], events: list[TicketEvent]) -> Reply:
    """Everything about a ticket, for the security team (triage room or DM only)."""
    tags = texts.tags_text(ticket)
    kind = texts.KIND_LABELS.get(ticket.kind, ticket.kind)
    lines = [
        f"{ticket.ref} — {kind}{', ' + tags if tags else ''}",
        f"State: {texts.state_label(ticket)}",
        f"Assigned to: {ticket.assignee or 'nobody yet'}",
        f"Reporter: {texts.reporter_label(ticket)}",
        f"Filed: {_when(ticket.created_at)} in {_FILED_IN.get(ticket.filed_in, 'a room')}",
        "Text:" if ticket.text is not None else "Text: (purged by the retention policy)",
    ]
    if ticket.text is not None:
        lines += [f"  {line}" for line in ticket.text.splitlines()]
    if comments:
        lines.append("Conversation and notes:")
        lines += [f"  {_comment_line(ticket, c, for_team=True)}" for c in comments]
    lines.append("History:")
    lines += [
        f"  {_when(e.at)} {e.actor}: {e.action}{' — ' + e.detail if e.detail else ''}"
        for e in events
    ]
    return Reply("\n".join(lines))


def reporter_view(ticket: Ticket, comments: list[TicketComment]) -> Reply:
    """A reporter's own ticket: state, text and the conversation, never internal notes."""
    lines = [
        f"{ticket.ref} — {texts.state_label(ticket)}",
        f"Filed: {_when(ticket.created_at)}",
        "Your message:" if ticket.text is not None else "Your message: (purged)",
    ]
    if ticket.text is not None:
        lines += [f"  {line}" for line in ticket.text.splitlines()]
    shown = [c for c in comments if c.kind in ("comment", "reply")]
    if shown:
        lines.append("Conversation:")
        lines += [f"  {_comment_line(ticket, c, for_team=False)}" for c in shown]
    return Reply("\n".join(lines))
