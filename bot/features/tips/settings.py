"""Config section ``tips``: daily security tips."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bot.durations import Duration, hours


class TipsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    file: Path = Path("config/tips.yaml")
    catch_up: Duration = hours(3)
    # How often the bot checks whether a tip is due (a tip appears at most this late);
    # the campaigns file is checked for changes at the same pace.
    check_interval: Duration = timedelta(seconds=30)
    # Counts under this are shown as "fewer than N", so no one is singled out.
    min_count: int = Field(5, ge=1, le=1000)
    # Per-person marks of a campaign run are deleted this many days after it ends.
    keep_days: int = Field(31, ge=0, le=3660)
    # Key of the HMAC behind the per-person marks (never stored in the database). Unset:
    # derived from matrix.password / matrix.access_token (see docs/tips.md).
    marker_key: SecretStr | None = None

    @field_validator("catch_up")
    @classmethod
    def _catch_up_range(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(hours=23):
            raise ValueError("catch_up must be between 1m and 23h")
        return value

    @field_validator("check_interval")
    @classmethod
    def _interval_range(cls, value: timedelta) -> timedelta:
        if not timedelta(milliseconds=50) <= value <= timedelta(minutes=10):
            raise ValueError("check_interval must be between 50ms and 10m")
        return value

    @field_validator("marker_key")
    @classmethod
    def _key_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("marker_key must be at least 16 characters")
        return value
