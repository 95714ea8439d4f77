"""The tips feature: daily security tips from campaigns in ``config/tips.yaml``.

Each (campaign, local date, room) is claimed in the database and queued in the outbox in
one transaction, so a tip appears exactly once whatever happens to the bot.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.features.plugin import Plugin, SubParsers
from bot.features.tips import handlers, stuck
from bot.features.tips.service import TipsService

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.privacy import PrivacyProvider
    from bot.services import Services


class TipsPlugin(Plugin):
    """The tip commands, the ✅ marks, and the daily job (:attr:`service`)."""

    name = "tips"

    def __init__(self, services: Services) -> None:
        self.service = TipsService.from_settings(services)

    def register(self, router: Router) -> None:
        tips = self.service
        handlers.register(router, tips)
        stuck.register(router, tips)
        router.on_reaction(tips.on_reaction)
        router.on_redaction(tips.on_redaction)

    def privacy_providers(self) -> Sequence[PrivacyProvider]:
        from bot.features.tips.privacy import TipsPrivacy

        return [TipsPrivacy(self.service)]

    @classmethod
    def add_cli(cls, subparsers: SubParsers, common: argparse.ArgumentParser) -> None:
        from bot.features.tips.cli import add_cli

        add_cli(subparsers, common)

    async def start(self) -> None:
        self.service.start()  # idempotent
