"""What can go wrong when sending, classified by what it means for a retry."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol


class Failure(StrEnum):
    """How a failed send is treated."""

    TRANSIENT = "transient"  # network error, 5xx: retry with capped exponential backoff
    RATE_LIMITED = "rate_limited"  # 429: wait the server's retry_after_ms, then retry
    PERMANENT = "permanent"  # 4xx other than 429: the same request will never succeed
    AUTH = "auth"  # M_UNKNOWN_TOKEN: nothing is wrong with the row; the session is gone


class SendError(Exception):
    """Sending failed; ``failure`` says whether and when to try again.

    ``permanent=True`` is kept for callers that only know "will never work".
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        failure: Failure | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.failure = failure or (Failure.PERMANENT if permanent else Failure.TRANSIENT)
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """Whether retrying the same request is pointless."""
        return self.failure is Failure.PERMANENT


class Transport(Protocol):
    """What the outbox needs from the Matrix layer."""

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        """Send one event; return its event id or raise :class:`SendError`."""
        ...

    async def open_direct_room(self, user_id: str) -> str:
        """Create a DM with ``user_id`` and return its room id, or raise SendError."""
        ...


def classify_http(status: int | None, errcode: str | None) -> Failure:
    """The meaning of a homeserver error response.

    429 (or ``M_LIMIT_EXCEEDED``) is a rate limit; ``M_UNKNOWN_TOKEN`` a lost session; no
    status or 5xx is transient (``M_UNKNOWN`` on a 502 is the proxy or a remote server);
    any other 4xx is permanent (``M_UNKNOWN`` on a 400 will not change by retrying).
    """
    if errcode == "M_UNKNOWN_TOKEN" or status == 401:
        return Failure.AUTH
    if status == 429 or errcode == "M_LIMIT_EXCEEDED":
        return Failure.RATE_LIMITED
    if status is not None and 400 <= status < 500:
        return Failure.PERMANENT
    return Failure.TRANSIENT
