"""Config section ``incidents``: incident intake and paging."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from bot.durations import Duration, minutes


class IncidentsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    playbooks_file: Path = Path("config/playbooks.yaml")
    intake_timeout: Duration = minutes(30)
    escalate_after: Duration = minutes(15)
    oncall: list[str] = Field(default_factory=list)
