"""The campaigns file, watched: re-read when it changes, the last good version kept.

The tips job calls :meth:`CampaignSource.check` on every tick, which hashes the file's
content (a few kilobytes every ``check_interval``): a change is noticed even when an
editor keeps the size and the modification time, and rewriting the same bytes changes
nothing. A broken edit never replaces the
campaigns in use: the last good version stays, and the problems are reported once per
broken version (the hash identifies it).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.features.tips.campaigns import Campaign
from bot.features.tips.loader import CampaignFileError, parse_campaigns
from bot.paths import resolve_data_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """What a check found: a new good version, or a new broken one."""

    digest: str
    ok: bool
    problems: list[str] = field(default_factory=list)


class CampaignSource:
    """The campaigns in use and where they came from."""

    def __init__(self, path: Path):
        self.path = resolve_data_file(path)
        self.campaigns: list[Campaign] = []
        self.problems: list[str] = []  # of the newest version, when it is broken
        self.good_digest: str | None = None
        self._seen_digest: str | None = None

    def _read(self) -> tuple[str | None, str]:
        """(text or None, digest); an unreadable file has a digest of its error."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None, "missing"
        except OSError as exc:
            return None, f"unreadable:{type(exc).__name__}"
        digest = hashlib.sha256(data).hexdigest()
        try:
            return data.decode("utf-8"), digest
        except UnicodeDecodeError:
            return None, digest

    def check(self, *, force: bool = False) -> Change | None:
        """Re-read the file if it changed (or ``force``). None: nothing new.

        Returns:
            The change: ``ok`` with the campaigns now in use, or the problems of a
            broken version (the last good campaigns stay in use).
        """
        text, digest = self._read()
        if not force and digest == self._seen_digest:
            return None
        self._seen_digest = digest
        if text is None:
            reason = {"missing": "does not exist"}.get(digest, "cannot be read as UTF-8 text")
            if digest.startswith("unreadable:"):
                reason = f"cannot be read ({digest.split(':', 1)[1]})"
            self.problems = [f"{self.path} {reason}"]
            return Change(digest, False, self.problems)
        try:
            campaigns = parse_campaigns(text, str(self.path))
        except CampaignFileError as exc:
            self.problems = exc.problems
            return Change(digest, False, exc.problems)
        self.campaigns, self.problems, self.good_digest = campaigns, [], digest
        return Change(digest, True)
