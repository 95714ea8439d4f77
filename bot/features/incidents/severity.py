"""Severity that assumes the worst: defaults, escalating signals and raising.

A report without a severity is ``high`` (or its playbook's ``default_severity``) until
someone on the team rates it with ``!sev``; phrases named by the playbook ("entered my
password") raise it; the reporter's own rating may raise it, never lower it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.features.incidents.models import SEVERITIES, Incident

if TYPE_CHECKING:
    from bot.features.incidents.playbooks import Playbook

ASSUMED = "high"


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces, for phrase matching."""
    return " ".join(re.sub(r"[^a-z0-9']+", " ", text.lower()).split())


def rank(severity: str | None) -> int:
    """Order of severities (unknown: below low)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def assumed(playbook: Playbook) -> str:
    """The severity of an unrated report of this type."""
    return playbook.default_severity or ASSUMED


def signal(playbook: Playbook, text: str) -> tuple[str, str] | None:
    """The worst severity an escalating phrase in ``text`` calls for, with that phrase."""
    words = f" {normalise(text)} "
    best: tuple[str, str] | None = None
    for severity, phrases in playbook.signals:
        for phrase in phrases:
            if f" {phrase} " in words and (best is None or rank(severity) > rank(best[0])):
                best = (severity, phrase)
    return best


def initial(playbook: Playbook, given: str | None, text: str) -> tuple[str, str]:
    """The severity to file a report with, and why (for the timeline)."""
    severity = given or assumed(playbook)
    why = "given by the reporter" if given else "assumed until the team rates it"
    found = signal(playbook, text)
    if found and rank(found[0]) > rank(severity):
        severity, why = found[0], f"raised by the report's words {found[1]!r}"
    return severity, why


def label(incident: Incident) -> str:
    """``high`` when the team rated it, ``high (assumed)`` otherwise."""
    severity = incident.severity or ASSUMED
    return severity if incident.severity_set_by else f"{severity} (assumed)"
