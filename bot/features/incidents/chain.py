"""The tamper-evident timeline: every entry's SHA-256 covers it and the previous hash.

Editing, reordering or deleting an entry breaks every later hash. An export ends with
the chain head and is itself recorded on the timeline with the SHA-256 of the report, so
``helpdesk-bot incident verify INC-N FILE`` can prove a file is the report as exported.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.features.incidents.models import IncidentEvent

GENESIS = "0" * 64
HEAD_LINE = "Timeline chain head (SHA-256): "
EXPORT_KIND = "exported"
_DIGEST = re.compile(r"report SHA-256 ([0-9a-f]{64})")
# Erased text (retention, a redaction) keeps the digest of what it replaced, so the chain
# still verifies and shows where text was erased, without keeping the words.
_ERASED = re.compile(r"\(erased(?:: [^;()]*)?; SHA-256 ([0-9a-f]{64})\)")


def text_digest(text: str | None) -> str:
    """What the chain covers of an entry's text: its SHA-256 (kept when it is erased)."""
    erased = _ERASED.fullmatch(text or "")
    if erased:
        return erased.group(1)
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


def erased(text: str | None, why: str = "") -> str:
    """The text that replaces ``text`` when it is erased: the chain stays whole."""
    reason = f": {why}" if why else ""
    return f"(erased{reason}; SHA-256 {text_digest(text)})"


def entry_hash(event: IncidentEvent) -> str:
    """The hash of one entry: its fields in canonical JSON, after the previous hash."""
    fields = {
        "incident": event.incident_id,
        "at": _utc(event.at).isoformat(timespec="microseconds"),
        "author": event.author,
        "kind": event.kind,
        "text_sha256": text_digest(event.text),
        "source": event.source_event_id,
    }
    payload = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(((event.prev_hash or GENESIS) + payload).encode("utf-8")).hexdigest()


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def report_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def export_note(digest: str) -> str:
    """The timeline text recording an export."""
    return f"Exported the report; report SHA-256 {digest}"


@dataclass
class Verdict:
    ok: bool
    problems: list[str] = field(default_factory=list)
    detail: str = ""


def check_chain(events: Sequence[IncidentEvent]) -> list[str]:
    """Problems with the stored chain (empty: every entry links and hashes correctly)."""
    problems = []
    prev: str | None = None
    for n, e in enumerate(events, start=1):
        if e.prev_hash != prev:
            problems.append(
                f"timeline entry {n} does not follow entry {n - 1} (reordered or deleted)"
            )
        elif e.hash != entry_hash(e):
            problems.append(f"timeline entry {n} ({e.kind}) was changed after it was written")
        prev = e.hash
    return problems


def verify_report(text: str, events: Sequence[IncidentEvent]) -> Verdict:
    """Check an exported report ``text`` against the stored timeline ``events``."""
    problems = check_chain(events)
    heads = [line for line in text.splitlines() if line.startswith(HEAD_LINE)]
    if not heads:
        return Verdict(False, [*problems, "the report has no chain head line"])
    head = heads[-1].removeprefix(HEAD_LINE).strip()
    hashes = [e.hash for e in events]
    if head not in hashes:
        problems.append("the report's chain head is not in the stored timeline")
    digest = report_digest(text)
    recorded = [
        e
        for e in events
        if e.kind == EXPORT_KIND and (m := _DIGEST.search(e.text)) and m[1] == digest
    ]
    if not recorded:
        problems.append("the report differs from every export recorded for this incident")
    if problems:
        return Verdict(False, problems)
    e = recorded[0]
    return Verdict(True, detail=f"exported {e.at:%Y-%m-%d %H:%M} UTC by {e.author or 'the bot'}")
