"""Config section ``tickets``: no-judgement help tickets."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.durations import Duration, hours, minutes


class TicketsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nudge_after: Duration = hours(4)
    # Off by default: text of tickets closed longer ago than this is purged.
    retention_days: int | None = Field(None, ge=1)
    # How often the background job looks for tickets to nudge or purge.
    check_every: Duration = minutes(1)
    # The anonymity key (keyed hashes of anonymous reporters, their encrypted route back).
    # Unset: a random key is generated once into anonymity_key_file. Never in the database.
    anonymity_key: SecretStr | None = None
    # Where the generated key is kept when anonymity_key is unset (never in the
    # database). Default: anonymity.key next to matrix.store_path.
    anonymity_key_file: Path | None = None
