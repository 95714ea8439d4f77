"""Reading what people type for tickets: filing options, ids, states, resolutions."""

from __future__ import annotations

import re

from bot.commands.errors import UsageError
from bot.commands.registry import Arg, ArgKind
from bot.features.tickets import texts
from bot.ids import TICKET, CaseRef
from bot.messaging import md

STATES = tuple(texts.STATE_LABELS)
_STATE_WORDS = {
    "new": "new",
    "triaged": "triaged",
    "triage": "triaged",
    "in progress": "in_progress",
    "in_progress": "in_progress",
    "in-progress": "in_progress",
    "inprogress": "in_progress",
    "progress": "in_progress",
    "waiting": "waiting",
    "waiting on reporter": "waiting",
    "waiting_on_reporter": "waiting",
    "waiting-on-reporter": "waiting",
    "resolved": "resolved",
    "closed": "closed",
}
_TAG = re.compile(r"^#([\w-]{1,32})$")
_WORD = re.compile(r"(\S+)(?:\s+|$)")


def parse_state(words: str) -> str:
    """The state named by ``words`` ("in progress", "waiting", ...), or UsageError."""
    text = " ".join(words.lower().split())
    for phrase in sorted(_STATE_WORDS, key=len, reverse=True):
        if text == phrase or text.startswith(phrase + " "):
            return _STATE_WORDS[phrase]
    names = ", ".join(texts.STATE_LABELS.values())
    raise UsageError(f"I don't know the state {md.escape(repr(words))}. States: {names}.")


NO_FOLLOW_UP = ("nofollowup", "no-followup", "no-follow-up", "untraceable")


def parse_filing(args: str) -> tuple[str, list[str], bool, str]:
    """Split ``!ticket`` arguments into kind, tags, anonymity and the text.

    Options are leading words in any order; the text keeps its line breaks.
    """
    kind, tags, anonymous, _, text = parse_filing_options(args)
    return kind, tags, anonymous, text


def parse_filing_options(args: str) -> tuple[str, list[str], bool, bool, str]:
    """Like :func:`parse_filing`, plus whether the reporter wants no follow-up at all."""
    kind, tags, anonymous, no_follow_up = "help", [], False, False
    rest = args.strip()
    while (match := _WORD.match(rest)) is not None:
        low = match[1].lower()
        if (tag := _TAG.match(low)) is not None:
            tags.append(tag[1])
        elif low in ("anonymous", "anon", "anonymously"):
            anonymous = True
        elif low in NO_FOLLOW_UP:
            anonymous = no_follow_up = True
        elif low in ("assessment", "review"):
            kind = "assessment"
        else:
            break
        rest = rest[match.end() :]
    return kind, tags, anonymous, no_follow_up, rest.strip()


def strip_reply_fallback(body: str) -> str:
    """Drop the quoted "> <@bot> ..." lines some clients put before a reply's text."""
    lines = body.splitlines()
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines).strip()


_RESOLUTIONS = {
    "answered": "answered",
    "fixed": "fixed",
    "duplicate": "duplicate",
    "dup": "duplicate",
    "not a security matter": "not_security",
    "not-a-security-matter": "not_security",
    "not_a_security_matter": "not_security",
    "not security": "not_security",
    "not-security": "not_security",
    "not_security": "not_security",
    "no response": "no_response",
    "no-response": "no_response",
    "no_response": "no_response",
}


def parse_ref(ref: str) -> int:
    """``T-12``, ``t12``, ``#12`` or ``12`` → 12 (tickets-only commands)."""
    number = CaseRef.parse_as(ref, TICKET)
    if number is None:
        raise UsageError(f"{md.escape(repr(ref))} is not a ticket id like T-12.")
    return number


def is_ticket_ref(ref: str) -> bool:
    """Whether ``ref`` reads as a ticket id (else it may be a claim code)."""
    return CaseRef.parse_as(ref, TICKET) is not None


# ``!close T-N duplicate [of] T-M [text for the reporter]``: what follows "duplicate".
DUPLICATE_OF = (Arg("original"), Arg("text", ArgKind.TEXT, optional=True))


def parse_resolution(words: str) -> tuple[str, str]:
    """The resolution named at the start of ``words`` and the rest of the text."""
    low = words.lower()
    for phrase in sorted(_RESOLUTIONS, key=len, reverse=True):
        if low == phrase or low.startswith(phrase + " "):
            return _RESOLUTIONS[phrase], words[len(phrase) :].strip()
    names = ", ".join(texts.RESOLUTION_LABELS.values())
    raise UsageError(f"Give a resolution: {names}.")
