"""Config section ``ownership``: the responsibilities map."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from bot.durations import Duration


class OwnershipSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Where unknown things are routed: never a guess, always the security team.
    fallback_contact: str = "the security team"
    # An owner not verified for this long is stale: answers say so and walk the chain.
    stale_after_days: int = Field(180, ge=1)
    # Minimum match score (0-100) to name an owner; below it the bot answers with the
    # fallback. Lowering it trades "no owner found" for wrong owners: keep it >= 60.
    min_confidence: float = Field(70.0, ge=60, le=100)
    # Areas per page of !owners.
    page_size: int = Field(15, ge=5, le=50)
    # Each owner is asked "still the owner of X?" once per area not verified this long.
    reconfirm_every: Duration = timedelta(days=90)
    # At most this many reconfirmation DMs per pass (the rest wait for the next pass).
    reconfirm_batch: int = Field(20, ge=1)
    # How often the reconfirmation and misses-digest job looks for work (first pass: one
    # interval after start).
    check_interval: Duration = timedelta(hours=1)
    # Record unanswered questions (subject words only) and post a digest this often.
    record_misses: bool = True
    misses_digest_every: Duration = timedelta(days=7)
    # A Synapse server admin's access token, used only to ask whether owners' accounts are
    # deactivated (GET /_synapse/admin/v2/users/<id>); unset: matrix.access_token is used
    # when set. Without either, deactivated owners are not detected (docs/ownership.md).
    admin_token: SecretStr | None = None
    # How long an owner's account status is trusted before it is asked again.
    account_check_every: Duration = timedelta(hours=1)
