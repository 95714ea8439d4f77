"""Abuse limits: token buckets per user (commands, tickets, incidents) and per room (replies).

A bucket holds up to ``burst`` tokens and gains ``per_minute`` tokens a minute; every
counted action takes one. When a bucket is empty the action is refused, and the person
gets ONE friendly notice: further refusals stay silent until the bucket has refilled
enough for another action (then a new excess earns a new notice). One notice per person
across all their buckets, so a burst that empties two buckets still gets one notice.

The state lives in memory, per process: a restart forgets it (a restart is no loop), and
with several replicas each one counts on its own (the limit is then at most N times as
generous). Config section ``limits``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

MAX_KEYS = 10_000  # buckets kept before full (idle) ones are forgotten


class BucketSettings(BaseModel):
    """One token bucket: ``burst`` actions at once, then ``per_minute`` on average."""

    model_config = ConfigDict(extra="forbid")

    burst: int = Field(ge=1)
    per_minute: float = Field(gt=0)


class LimitsSettings(BaseModel):
    """Config section ``limits`` (the security team is exempt from the command limit)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # Per user: every message the bot acts on (commands, questions, DM answers). Generous:
    # a person may fire a burst of cheap commands and must get every answer; what costs
    # other people (tickets, incidents, pages) has its own, tight buckets below.
    commands: BucketSettings = BucketSettings(burst=120, per_minute=60)
    # Per user: new tickets filed.
    tickets: BucketSettings = BucketSettings(burst=5, per_minute=0.5)
    # Per user: incident reports (new or merged into an open one).
    incidents: BucketSettings = BucketSettings(burst=3, per_minute=0.2)
    # Per room (not the triage room): the bot's replies.
    replies: BucketSettings = BucketSettings(burst=240, per_minute=120)


class Verdict(enum.Enum):
    OK = "ok"
    NOTIFY = "notify"  # refused; tell the person, once
    SILENT = "silent"  # refused; they were told already


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Bucket:
    """Token buckets of one kind, keyed by user or room id."""

    settings: BucketSettings
    _state: dict[str, _Bucket] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Tokens gained per second."""
        return self.settings.per_minute / 60.0

    def take(self, key: str, now: float) -> float:
        """Take a token for ``key``: 0.0 if granted, else the seconds until one is back."""
        state = self._state.get(key)
        if state is None:
            if len(self._state) >= MAX_KEYS:
                self._forget_full(now)
            state = self._state[key] = _Bucket(float(self.settings.burst), now)
        state.tokens = min(float(self.settings.burst), state.tokens + (now - state.at) * self.rate)
        state.at = now
        if state.tokens >= 1.0:
            state.tokens -= 1.0
            return 0.0
        return (1.0 - state.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        burst = float(self.settings.burst)
        for key, state in list(self._state.items()):
            if state.tokens + (now - state.at) * self.rate >= burst:
                del self._state[key]


class Limits:
    """Every bucket of the bot and who has been told they are over a limit."""

    def __init__(self, settings: LimitsSettings, clock: Callable[[], datetime]):
        self.settings = settings
        self.clock = clock
        self.commands = Bucket(settings.commands)
        self.tickets = Bucket(settings.tickets)
        self.incidents = Bucket(settings.incidents)
        self.replies = Bucket(settings.replies)
        self._quiet_until: dict[str, float] = {}  # key -> no second notice before this

    def check(self, bucket: Bucket, key: str) -> Verdict:
        """Count one action of ``key`` in ``bucket``."""
        if not self.settings.enabled:
            return Verdict.OK
        now = self.clock().timestamp()
        wait = bucket.take(key, now)
        if wait == 0.0:
            return Verdict.OK
        if self._quiet_until.get(key, 0.0) > now:
            return Verdict.SILENT
        if len(self._quiet_until) >= MAX_KEYS:
            self._quiet_until = {k: t for k, t in self._quiet_until.items() if t > now}
        self._quiet_until[key] = now + wait
        return Verdict.NOTIFY


LIMIT_NOTICE = (
    "You're sending me a lot at once, so I'm taking a short pause with you: what you send "
    "in the next few minutes is not handled (this is the only notice). Everything before "
    "this message was received."
)
ROOM_NOTICE = (
    "I've answered a lot in this room in the last minutes, so I'm pausing here for a "
    "little while. Direct messages to me still work."
)
