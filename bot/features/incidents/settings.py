"""Config section ``incidents``: incident intake and paging."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.durations import Duration, minutes
from bot.ids import USER_ID


def _user_ids(values: list[str]) -> list[str]:
    for value in values:
        if not USER_ID.match(value):
            raise ValueError(f"{value!r} is not a Matrix user id like @name:example.org")
    return values


class RotationSettings(BaseModel):
    """A weekly on-call rotation: week ``n`` after ``start`` uses ``weeks[n % len(weeks)]``."""

    model_config = ConfigDict(extra="forbid")

    start: date
    # Each week: [primary, backup, ...] user ids.
    weeks: list[list[str]] = Field(min_length=1)

    @field_validator("weeks")
    @classmethod
    def _ids(cls, weeks: list[list[str]]) -> list[list[str]]:
        for week in weeks:
            _user_ids(week)
        return weeks


class IncidentsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    playbooks_file: Path = Path("config/playbooks.yaml")
    intake_timeout: Duration = minutes(30)
    escalate_after: Duration = minutes(15)
    oncall: list[str] = Field(default_factory=list)
    rotation: RotationSettings | None = None
    escalation_check_interval: Duration = timedelta(seconds=30)
    # A second report from the same person within this time of an open incident of
    # theirs is added to it instead of paging again (0 turns merging off).
    merge_window: Duration = minutes(10)
    # Off by default: text of incidents closed longer ago than this is purged.
    retention_days: int | None = Field(None, ge=1)

    @field_validator("oncall")
    @classmethod
    def _oncall_ids(cls, value: list[str]) -> list[str]:
        return _user_ids(value)

    @field_validator("escalation_check_interval")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be a positive duration")
        return value

    def oncall_for(self, today: date) -> list[str]:
        """The on-call list for ``today``: ``[primary, backup, ...]`` (may be empty)."""
        if self.rotation is not None:
            weeks = self.rotation.weeks
            index = ((today - self.rotation.start).days // 7) % len(weeks)
            return list(weeks[index])
        return list(self.oncall)
