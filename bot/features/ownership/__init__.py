"""The ownership feature: "who owns X?" answered from the responsibilities map."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.features.plugin import Plugin, SubParsers

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.privacy import PrivacyProvider
    from bot.services import Services


class OwnershipPlugin(Plugin):
    """The map's commands and the periodic jobs (reconfirmation, asking owners)."""

    name = "ownership"

    def __init__(self, services: Services) -> None:
        from bot.features.ownership.service import OwnershipService

        self.services = services
        self.service = OwnershipService(services.settings.ownership, services)
        self.prefix = services.settings.bot.command_prefix
        self._scheduled = False

    def register(self, router: Router) -> None:
        from bot.features.ownership.handlers import register

        register(router, self.service)

    def privacy_providers(self) -> Sequence[PrivacyProvider]:
        from bot.features.ownership.privacy import OwnershipPrivacy

        return [OwnershipPrivacy()]

    @classmethod
    def add_cli(cls, subparsers: SubParsers, common: argparse.ArgumentParser) -> None:
        from bot.features.ownership.cli import add_cli

        add_cli(subparsers, common)

    async def start(self) -> None:
        from bot.features.ownership.jobs import run_periodic

        if self._scheduled:
            return
        self._scheduled = True
        services, service, prefix = self.services, self.service, self.prefix
        started = False

        async def check() -> None:
            # The first pass waits one interval: a restart must not greet the owners (and
            # the outbox) with a burst of DMs before the bot has answered anyone.
            nonlocal started
            if started:
                await run_periodic(services, service, prefix)
            started = True

        services.scheduler.every(
            services.settings.ownership.check_interval, check, "ownership-jobs"
        )
