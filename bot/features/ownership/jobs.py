"""The ownership feature's periodic work: reconfirmation DMs and the misses digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features.ownership import misses, reconfirm

if TYPE_CHECKING:
    from bot.features.ownership.service import OwnershipService
    from bot.services import Services


async def run_periodic(services: Services, service: OwnershipService, prefix: str) -> None:
    """One pass: DM owners of stale areas, post the digest when it is due."""
    await reconfirm.send_due(services, service)
    await misses.digest_due(services, service, prefix)
