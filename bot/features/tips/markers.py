"""Per-person marks as keyed hashes: countable, never listable.

A mark is ``HMAC(key, kind | campaign | local date | user id)``. The same person on the
same day gives the same mark (so people are counted once, and ``!tip progress`` can
recompute a person's own marks), but without the key nobody can tell whose mark it is,
not even by trying every member of the room. The key comes from the configuration and is
never written to the database.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

DONE = "done"
STUCK = "stuck"
_DERIVE_LABEL = b"helpdesk-bot tips marker key v1"


def marker_key(settings: Settings) -> bytes | None:
    """The HMAC key: ``tips.marker_key``, else derived from the Matrix secret.

    Deriving keeps counting on for a deployment that never set a key; changing the
    password (or token) then starts a new set of marks (documented in docs/tips.md).
    None only when no secret is configured at all, and then nothing is counted.
    """
    configured = settings.tips.marker_key
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    secret = settings.matrix.password or settings.matrix.access_token
    if secret is None:
        return None
    return hmac.new(secret.get_secret_value().encode("utf-8"), _DERIVE_LABEL, "sha256").digest()


class Markers:
    """Computes marks with one key."""

    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def person(self, kind: str, campaign: str, local_date: date, user_id: str) -> str:
        """The mark of ``user_id`` for one day of a campaign."""
        return self._mac(f"{kind}|{campaign}|{local_date.isoformat()}|{user_id}")

    def event(self, event_id: str) -> str:
        """A reference to the reaction event behind a mark, so its redaction finds it."""
        return self._mac(f"event|{event_id}")
