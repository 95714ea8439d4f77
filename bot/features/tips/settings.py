"""Config section ``tips``: daily security tips."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bot.durations import Duration, hours


class TipsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    file: Path = Path("config/tips.yaml")
    catch_up: Duration = hours(3)
