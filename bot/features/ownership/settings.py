"""Config section ``ownership``: the responsibilities map."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OwnershipSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Where unknown things are routed: never a guess, always the security team.
    fallback_contact: str = "the security team (ask in the triage room or file !ticket)"
    stale_after_days: int = Field(180, ge=1)
