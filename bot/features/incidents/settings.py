"""Config section ``incidents``: incident intake and paging."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.durations import Duration, minutes
from bot.features.incidents.policy import (
    BusinessHours,
    Deadline,
    EscalationPolicy,
    Window,
    check_timezone,
    default_ack_within,
    default_clocks,
    default_steps,
    default_update_every,
    parse_window,
)
from bot.ids import check_user_ids

SEVERITY_KEYS = ("low", "medium", "high", "critical")


class RotationSettings(BaseModel):
    """A weekly on-call rotation: week ``n`` after ``start`` uses ``weeks[n % len(weeks)]``."""

    model_config = ConfigDict(extra="forbid")

    start: date
    # Each week: [primary, backup, ...] user ids.
    weeks: list[list[str]] = Field(min_length=1)
    # Local time zone of the rotation and business hours; the week changes over at
    # ``changeover_hour`` local time (before it, the previous week's people are on call).
    timezone: str = "UTC"
    changeover_hour: int = Field(0, ge=0, le=23)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("weeks")
    @classmethod
    def _ids(cls, weeks: list[list[str]]) -> list[list[str]]:
        for week in weeks:
            check_user_ids(week)
        return weeks


class IncidentsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    playbooks_file: Path = Path("config/playbooks.yaml")
    intake_timeout: Duration = minutes(30)
    escalate_after: Duration = minutes(15)
    oncall: list[str] = Field(default_factory=list)
    rotation: RotationSettings | None = None
    escalation_check_interval: Duration = timedelta(seconds=30)
    # Every incident must be acknowledged within this, per severity (``1 business day``
    # counts only business hours); then it is re-raised and escalated along ``escalation``.
    ack_within: dict[str, str] = Field(default_factory=default_ack_within)
    escalation: EscalationPolicy = Field(default_factory=EscalationPolicy)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    # The lead is reminded to post an update this often, per severity, until contained.
    update_every: dict[str, Duration] = Field(default_factory=default_update_every)
    # Regulatory clocks, started by a playbook type or ``!clock INC-N <name>``.
    clocks: dict[str, list[Deadline]] = Field(default_factory=default_clocks)
    # A second report from the same person within this time of an open incident of
    # theirs is added to it instead of paging again (0 turns merging off).
    merge_window: Duration = minutes(10)
    # Off by default: text of incidents closed longer ago than this is purged.
    retention_days: int | None = Field(None, ge=1)

    @field_validator("oncall")
    @classmethod
    def _oncall_ids(cls, value: list[str]) -> list[str]:
        return check_user_ids(value)

    @field_validator("escalation_check_interval")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be a positive duration")
        return value

    @field_validator("ack_within", "update_every")
    @classmethod
    def _per_severity(cls, value: dict) -> dict:  # type: ignore[type-arg]
        unknown = sorted(set(value) - set(SEVERITY_KEYS))
        if unknown:
            raise ValueError(f"unknown severities {unknown}; use {', '.join(SEVERITY_KEYS)}")
        return value

    @model_validator(mode="after")
    def _windows(self) -> IncidentsSettings:
        defaults = default_ack_within()
        for severity in SEVERITY_KEYS:
            parse_window(self.ack_within.get(severity, defaults[severity]), 8.0)
        if "escalation" not in self.model_fields_set:
            # The default policy waits ``escalate_after`` between its steps.
            self.escalation = EscalationPolicy(steps=default_steps(self.escalate_after))
        return self

    @property
    def timezone(self) -> ZoneInfo:
        """The rotation's time zone (UTC without a rotation)."""
        return ZoneInfo(self.rotation.timezone if self.rotation else "UTC")

    def ack_window(self, severity: str | None) -> Window:
        """How long an incident of ``severity`` may wait for an acknowledgement."""
        key = severity if severity in SEVERITY_KEYS else "high"
        value = self.ack_within.get(key, default_ack_within()[key])
        return parse_window(value, self.business_hours.day_hours)

    def ack_deadline(self, severity: str | None, since: datetime) -> datetime:
        """When an incident of ``severity`` reported at ``since`` must be acknowledged."""
        window = self.ack_window(severity)
        if not window.business:
            return since + window.delta
        return self.business_hours.add(since, window.delta, self.timezone)

    def update_interval(self, severity: str | None) -> timedelta:
        key = severity if severity in SEVERITY_KEYS else "high"
        return self.update_every.get(key, default_update_every()[key])

    def oncall_at(self, now: datetime) -> list[str]:
        """The on-call list at ``now``: the rotation's local day, after the change-over hour."""
        if self.rotation is None:
            return list(self.oncall)
        local = now.astimezone(ZoneInfo(self.rotation.timezone))
        day = local.date()
        if local.hour < self.rotation.changeover_hour:
            day -= timedelta(days=1)
        return self.oncall_for(day)

    def oncall_for(self, today: date) -> list[str]:
        """The on-call list for ``today``: ``[primary, backup, ...]`` (may be empty)."""
        if self.rotation is not None:
            weeks = self.rotation.weeks
            index = ((today - self.rotation.start).days // 7) % len(weeks)
            return list(weeks[index])
        return list(self.oncall)
