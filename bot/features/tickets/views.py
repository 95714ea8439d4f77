"""Long views of a ticket: the team's ``!show`` and the reporter's own view.

Markdown: every stored text (the ticket's, comments, notes, ids) is escaped as data; the
ticket's text is a quote, the conversation and history are lists.
"""

from __future__ import annotations

from datetime import datetime

from bot.commands.context import Reply
from bot.features.tickets import texts
from bot.features.tickets.models import Ticket, TicketComment, TicketEvent
from bot.messaging import md

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


def _quote(text: str) -> list[str]:
    """``text`` (a person's words) as a Markdown quote, line by line."""
    return [f"> {md.escape(line)}" if line.strip() else ">" for line in text.splitlines()]


def _items(lines: list[str]) -> list[str]:
    return [f"- {md.escape(line)}" for line in lines]


def team_view(ticket: Ticket, comments: list[TicketComment], events: list[TicketEvent]) -> Reply:
    """Everything about a ticket, for the security team (triage room or DM only)."""
    tags = texts.tags_text(ticket)
    kind = texts.KIND_LABELS.get(ticket.kind, ticket.kind)
    head = [
        f"{ticket.ref} — {kind}{', ' + tags if tags else ''}",
        f"State: {texts.state_label(ticket)}",
        f"Assigned to: {ticket.assignee or 'nobody yet'}",
        f"Reporter: {texts.reporter_label(ticket)}",
        f"Filed: {_when(ticket.created_at)} in {_FILED_IN.get(ticket.filed_in, 'a room')}",
        "Text:" if ticket.text is not None else "Text: (purged by the retention policy)",
    ]
    lines = [md.escape(line) for line in head]
    if ticket.text is not None:
        lines += ["", *_quote(ticket.text)]
    if comments:
        lines += ["", "Conversation and notes:", ""]
        lines += _items([_comment_line(ticket, c, for_team=True) for c in comments])
    lines += ["", "History:", ""]
    lines += _items(
        [
            f"{_when(e.at)} {e.actor}: {e.action}{' — ' + e.detail if e.detail else ''}"
            for e in events
        ]
    )
    return Reply("\n".join(lines))


def reporter_view(ticket: Ticket, comments: list[TicketComment]) -> Reply:
    """A reporter's own ticket: state, text and the conversation, never internal notes."""
    head = [
        f"{ticket.ref} — {texts.state_label(ticket)}",
        f"Filed: {_when(ticket.created_at)}",
        "Your message:" if ticket.text is not None else "Your message: (purged)",
    ]
    lines = [md.escape(line) for line in head]
    if ticket.text is not None:
        lines += ["", *_quote(ticket.text)]
    shown = [c for c in comments if c.kind in ("comment", "reply")]
    if shown:
        lines += ["", "Conversation:", ""]
        lines += _items([_comment_line(ticket, c, for_team=False) for c in shown])
    return Reply("\n".join(lines))
