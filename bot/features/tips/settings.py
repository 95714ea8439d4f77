"""Config section ``tips``: daily security tips."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from bot.durations import Duration, hours


class TipsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    file: Path = Path("config/tips.yaml")
    catch_up: Duration = hours(3)
    # How often the bot checks whether a tip is due (a tip appears at most this late).
    check_interval: Duration = timedelta(seconds=30)

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
