"""Acknowledgement windows, business hours, the escalation policy and regulatory clocks.

These are config models (section ``incidents``) plus the time arithmetic they need, kept
apart from ``settings.py`` so the policy reads as data: what must happen, and when.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.durations import Duration, minutes, parse_duration

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BUSINESS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*business\s+(day|days|hour|hours)\s*$", re.I)


def check_timezone(value: str) -> str:
    """``value`` if it names an IANA time zone (``Europe/Berlin``), else ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a time zone like Europe/Berlin or UTC") from None
    return value


@dataclass(frozen=True)
class Window:
    """A time allowance: wall-clock (``delta``) or in business time (``business``)."""

    delta: timedelta
    business: bool = False

    def __str__(self) -> str:
        if not self.business:
            total = int(self.delta.total_seconds())
            if total % 3600 == 0:
                return f"{total // 3600}h"
            return f"{total // 60}m" if total % 60 == 0 else f"{total}s"
        return f"{self.delta.total_seconds() / 3600:g} business hours"


def parse_window(value: Any, day_hours: float) -> Window:
    """``15m``, ``1h`` or ``1 business day`` / ``4 business hours`` → a :class:`Window`."""
    if isinstance(value, str):
        match = _BUSINESS.match(value)
        if match:
            n = float(match[1])
            hours = n * day_hours if match[2].lower().startswith("day") else n
            return Window(timedelta(hours=hours), business=True)
    parsed = parse_duration(value)
    if not isinstance(parsed, timedelta) or parsed.total_seconds() <= 0:
        raise ValueError(f"{value!r} is not a duration like 15m, 1h or 1 business day")
    return Window(parsed)


class BusinessHours(BaseModel):
    """When the team works, in ``incidents.rotation.timezone`` (default UTC)."""

    model_config = ConfigDict(extra="forbid")

    start: time = time(9, 0)
    end: time = time(17, 0)
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], min_length=1
    )

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("business_hours.end must be after business_hours.start")
        return self

    @property
    def day_hours(self) -> float:
        start = timedelta(hours=self.start.hour, minutes=self.start.minute)
        end = timedelta(hours=self.end.hour, minutes=self.end.minute)
        return (end - start).total_seconds() / 3600

    def add(self, start: datetime, amount: timedelta, tz: ZoneInfo) -> datetime:
        """``start`` plus ``amount`` of business time (nights and days off do not count)."""
        left = amount
        local = start.astimezone(tz)
        for _ in range(3700):  # ten years of days: a bound, never reached in practice
            day_start = datetime.combine(local.date(), self.start, tz)
            day_end = datetime.combine(local.date(), self.end, tz)
            if DAYS[local.weekday()] in self.days and local < day_end:
                begin = max(local, day_start)
                if begin + left <= day_end:
                    return (begin + left).astimezone(start.tzinfo)
                left -= day_end - begin
            nxt = local.date() + timedelta(days=1)
            local = datetime.combine(nxt, time(0, 0), tz)
        raise ValueError("business time out of range")


class Step(BaseModel):
    """One escalation step: ``{notify: oncall|backup|team}`` or ``{wait: 10m}``."""

    model_config = ConfigDict(extra="forbid")

    notify: Literal["oncall", "backup", "team"] | None = None
    wait: Duration | None = None

    @model_validator(mode="after")
    def _one(self) -> Step:
        if (self.notify is None) == (self.wait is None):
            raise ValueError("each step is either notify: oncall|backup|team or wait: <duration>")
        return self


def default_steps(wait: timedelta | None = None) -> list[Step]:
    """On-call, wait (default 15 min), backup, wait, every team member."""
    wait = wait or minutes(15)
    return [
        Step(notify="oncall"),
        Step(wait=wait),
        Step(notify="backup"),
        Step(wait=wait),
        Step(notify="team"),
    ]


@dataclass(frozen=True)
class Stage:
    """A notify step placed in time: ``after`` the acknowledgement deadline."""

    after: timedelta
    notify: str
    round: int


class EscalationPolicy(BaseModel):
    """What happens once an incident is past its acknowledgement window.

    The steps run from the deadline; ``repeat`` runs the whole list that many times in
    all, ``repeat_after`` apart. Each notify step re-raises the incident in the triage
    room and DMs its people (``oncall``: the primary, ``backup``, ``team``: everyone).
    """

    model_config = ConfigDict(extra="forbid")

    steps: list[Step] = Field(default_factory=default_steps, min_length=1)
    repeat: int = Field(1, ge=1, le=20)
    repeat_after: Duration = minutes(30)

    @field_validator("steps")
    @classmethod
    def _has_notify(cls, steps: list[Step]) -> list[Step]:
        if not any(s.notify for s in steps):
            raise ValueError("the escalation needs at least one notify step")
        return steps

    def stages(self) -> list[Stage]:
        """Every notify step with its offset from the deadline, over all rounds."""
        out: list[Stage] = []
        offset = timedelta(0)
        for n in range(self.repeat):
            if n:
                offset += self.repeat_after
            for step in self.steps:
                if step.wait is not None:
                    offset += step.wait
                elif step.notify is not None:
                    out.append(Stage(offset, step.notify, n + 1))
        return out


def default_ack_within() -> dict[str, str]:
    return {"critical": "5m", "high": "15m", "medium": "1h", "low": "1 business day"}


def default_update_every() -> dict[str, Duration]:
    return {
        "critical": minutes(30),
        "high": minutes(60),
        "medium": minutes(240),
        "low": timedelta(days=1),
    }


class Deadline(BaseModel):
    """One deadline of a regulatory clock."""

    model_config = ConfigDict(extra="forbid")

    label: str
    within: Duration


def default_clocks() -> dict[str, list[Deadline]]:
    return {
        "gdpr": [
            Deadline(
                label="Notify the supervisory authority (GDPR art. 33)", within=timedelta(hours=72)
            )
        ],
        "nis2": [
            Deadline(label="NIS2 early warning", within=timedelta(hours=24)),
            Deadline(label="NIS2 incident notification", within=timedelta(hours=72)),
        ],
    }
