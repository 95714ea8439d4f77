"""Config section ``tickets``: no-judgement help tickets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.durations import Duration, hours, minutes


class TicketsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nudge_after: Duration = hours(4)
    # Off by default: text of tickets closed longer ago than this is purged.
    retention_days: int | None = Field(None, ge=1)
    # How often the background job looks for tickets to nudge or purge.
    check_every: Duration = minutes(1)
    # Key of the keyed hash (HMAC-SHA256) that lets an anonymous reporter find their own
    # tickets with !mytickets. Unset: a random key is generated and kept in the database
    # (weaker: whoever reads the database can then test candidate user ids).
    anonymity_key: SecretStr | None = None
