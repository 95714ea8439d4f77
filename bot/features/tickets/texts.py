"""What the bot says about tickets: warm, plain, honest about who sees what.

The messages are Markdown (people's words and ids through ``escape``, commands written
``{prefix}name``); the short labels (states, tags, summaries) are plain text.
"""

from __future__ import annotations

from bot.features.tickets.models import Ticket
from bot.messaging.md import escape

STATE_LABELS = {
    "new": "new",
    "triaged": "triaged",
    "in_progress": "in progress",
    "waiting": "waiting on reporter",
    "resolved": "resolved",
    "closed": "closed",
}
RESOLUTION_LABELS = {
    "answered": "answered",
    "fixed": "fixed",
    "duplicate": "duplicate",
    "not_security": "not a security matter",
    "no_response": "no response",
}
KIND_LABELS = {"help": "help request", "assessment": "security & privacy assessment"}
SUMMARY_CHARS = 140


def state_label(ticket: Ticket) -> str:
    label = STATE_LABELS.get(ticket.state, ticket.state)
    if ticket.state == "closed" and ticket.resolution:
        label += f" ({resolution_label(ticket)})"
    return label


def resolution_label(ticket: Ticket) -> str:
    label = RESOLUTION_LABELS.get(ticket.resolution or "", ticket.resolution or "")
    if ticket.resolution == "duplicate" and ticket.duplicate_of:
        label += f" of T-{ticket.duplicate_of}"
    return label


def tags_text(ticket: Ticket) -> str:
    return " ".join(f"#{t}" for t in ticket.tags.split(",") if t)


def summary(ticket: Ticket) -> str:
    """The first line of the text, shortened (for the team's lists and announcements)."""
    if ticket.text is None:
        return "(text purged)"
    first = ticket.text.strip().splitlines()[0] if ticket.text.strip() else ""
    return first if len(first) <= SUMMARY_CHARS else first[: SUMMARY_CHARS - 1] + "…"


def reporter_label(ticket: Ticket) -> str:
    return "anonymous" if ticket.anonymous else (ticket.reporter_id or "unknown")


def how_to_file() -> str:
    return (
        "There is no judgement here: no question is too small, and asking early is always "
        "right.\n"
        "To ask the security team for help, send `{prefix}ticket` followed by your question, "
        "e.g. `{prefix}ticket I clicked a link in a strange email, what now?`\n"
        "Options: tags like `{prefix}ticket #access <text>`; `{prefix}ticket assessment "
        "<text>` asks for a security & privacy assessment of a new feature; `{prefix}ticket "
        "anonymous <text>` hides who you are from the team (`{prefix}ticket anonymous` alone "
        "explains its limits).\n"
        "What happens next: you get a ticket number (T-<n>), only the security team can see "
        "the ticket, a team member picks it up, and I tell you in a direct message about "
        "every reply and change. `{prefix}mytickets` lists your tickets. DM me to keep it "
        "private from the start."
    )


def who_can_see(team: list[str]) -> str:
    names = escape(", ".join(team)) if team else "(no one is configured yet)"
    return f"Who can see it: only the security team — {names}."


def what_is_stored(anonymous: bool, filed_in_public: bool) -> str:
    if not anonymous:
        return (
            "What I keep: the text you sent, your Matrix id (so I can reach you), replies and "
            "comments, and a history of who changed what and when."
        )
    limits = (
        "Limits, honestly: the homeserver's admins can see who sent what to me, someone "
        "holding both my database and my configuration can link the ticket to you, and "
        "your own words may identify you."
    )
    if filed_in_public:
        limits += (
            " You filed in the public room, so people there saw your message and who sent it; "
            "you may want to delete it there."
        )
    return (
        "Anonymous: the team is not shown who you are, and neither your Matrix id nor this "
        "chat is stored in clear with the ticket. I keep the text, the way back to you "
        "encrypted with a key that is not in my database (to pass on replies), and a keyed "
        "fingerprint of your id so `{prefix}mytickets` can find your tickets. " + limits
    )


def anonymity_limits() -> str:
    """What anonymity means here, said before anyone files (``!ticket anonymous``)."""
    return (
        "Filing anonymously, honestly:\n\n"
        "- `{prefix}ticket anonymous <text>`: the team does not see who you are and my database "
        "keeps no readable link to you; I keep the way back to you encrypted with a key "
        "held outside the database, so the team's replies still reach you here.\n"
        "- `{prefix}ticket nofollowup <text>`: I keep nothing that leads to you at all. You "
        "get a claim code instead; `{prefix}mytickets <code>` in any direct chat with me shows "
        "the team's answers. Lose the code and nobody can find the ticket for you.\n\n"
        "Limits: the homeserver's admins can see who sent what to me; someone holding both my "
        "database and my configuration can link an anonymous ticket (not a nofollowup one) "
        "to you; if you file in a public room, people there see your message; and your own "
        "words may identify you. A direct message to me is the most private way."
    )


def claim_code_message(ticket: Ticket, code: str, filed_in_public: bool) -> str:
    """The one message that gives a reporter without follow-up their claim code."""
    text = (
        f"Thank you — your request is {ticket.ref}, filed without any way back to you.\n"
        f"Your claim code: `{code}`\n"
        f"Keep it: `{{prefix}}mytickets {code}` in any direct chat with me shows the team's "
        "answers. I don't keep the code or anything that leads to you, so nobody can "
        "recover it. I will not write to you about this ticket."
    )
    if filed_in_public:
        text += " People in the public room saw your message; you may want to delete it there."
    return text


def filed_message(ticket: Ticket, team: list[str], filed_in_public: bool) -> str:
    """The DM that confirms a new ticket."""
    kind = KIND_LABELS.get(ticket.kind, ticket.kind)
    tags = tags_text(ticket)
    head = f"Thank you for asking — there is no judgement here. Your {kind} is {ticket.ref}"
    head += f" ({escape(tags)})." if tags else "."
    lines = [
        head,
        who_can_see(team),
        what_is_stored(ticket.anonymous, filed_in_public),
        "What happens next: a team member will pick it up, and I'll tell you here about every "
        "reply and change of state.",
        f"To add details, reply to this message or send `{{prefix}}comment {ticket.ref} <text>`. "
        "`{prefix}mytickets` lists your tickets.",
    ]
    return "\n".join(lines)


def public_ack(ticket: Ticket, sender: str) -> str:
    """The public-room answer: never the ticket's text; no number for anonymous tickets."""
    if ticket.anonymous:
        return (
            "Thank you — your request is filed anonymously and I've messaged you privately to "
            "continue. I won't repeat it here. People in this room saw your message, so you "
            "may want to delete it; next time, DM me: it's private from the start."
        )
    return (
        f"Thank you, {escape(sender)} — I've opened {ticket.ref} and we'll continue in a direct "
        "message; I won't repeat your message here. Next time you can DM me directly: it's "
        "private from the start."
    )


def announcement(ticket: Ticket) -> str:
    """The triage room's post about a new ticket (Markdown, ``{prefix}`` for the prefix)."""
    kind = KIND_LABELS.get(ticket.kind, ticket.kind)
    tags = tags_text(ticket)
    head = f"New ticket {ticket.ref} — {kind}" + (f", {tags}" if tags else "")
    return (
        f"**{escape(head)}**\nFrom: {escape(reporter_label(ticket))}\n"
        f"Summary: {escape(summary(ticket))}\n"
        f"`{{prefix}}claim {ticket.ref}` to take it, `{{prefix}}show {ticket.ref}` for everything."
    )


def list_line(ticket: Ticket) -> str:
    assignee = f" → {ticket.assignee}" if ticket.assignee else ""
    tags = tags_text(ticket)
    return (
        f"{ticket.ref} [{state_label(ticket)}] {ticket.kind}{' ' + tags if tags else ''}"
        f"{assignee} · {reporter_label(ticket)}: {summary(ticket)}"
    )


def reporter_line(ticket: Ticket) -> str:
    """A reporter's own view of a ticket in !mytickets (no team-internal details)."""
    tags = tags_text(ticket)
    text = ticket.text or "(text purged)"
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = first if len(first) <= 60 else first[:59] + "…"
    return f"{ticket.ref} — {state_label(ticket)}{' ' + tags if tags else ''}: {first}"
