"""Config section ``ownership``: the responsibilities map."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OwnershipSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Where unknown things are routed: never a guess, always the security team.
    fallback_contact: str = "the security team"
    stale_after_days: int = Field(180, ge=1)
    # Minimum match score (0-100) to name an owner; below it the bot answers with the
    # fallback. Lowering it trades "no owner found" for wrong owners: keep it >= 60.
    min_confidence: float = Field(70.0, ge=60, le=100)
    # Areas per page of !owners.
    page_size: int = Field(15, ge=5, le=50)
