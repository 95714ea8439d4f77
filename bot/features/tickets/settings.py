"""Config section ``tickets``: no-judgement help tickets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bot.durations import Duration, hours


class TicketsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nudge_after: Duration = hours(4)
    # Off by default: text of tickets closed longer ago than this is purged.
    retention_days: int | None = Field(None, ge=1)
