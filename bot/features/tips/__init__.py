"""The tips feature: daily security tips from campaigns in ``config/tips.yaml``.

Each (campaign, local date, room) is claimed in the database and queued in the outbox in
one transaction, so a tip appears exactly once whatever happens to the bot.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from bot.features import Feature
from bot.features.tips import handlers, stuck
from bot.features.tips.cli import add_cli
from bot.features.tips.service import TipsService

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services

# One TipsService per running App (tests run two in one process), keyed by id(services).
_instances: weakref.WeakValueDictionary[int, TipsService] = weakref.WeakValueDictionary()


def tips_service(services: Services) -> TipsService | None:
    """The tips service set up for ``services`` (None before setup)."""
    return _instances.get(id(services))


def _setup(services: Services, router: Router) -> None:
    tips = TipsService.from_settings(services)
    _instances[id(services)] = tips
    handlers.register(router, tips)
    stuck.register(router, tips)
    router.on_reaction(tips.on_reaction)
    router.on_redaction(tips.on_redaction)
    from bot.features.tips.privacy import TipsPrivacy
    from bot.privacy import privacy_registry

    privacy_registry(router).add(TipsPrivacy(tips))


async def _on_ready(services: Services) -> None:
    tips = tips_service(services)
    if tips is not None:
        tips.start()


feature = Feature(name="tips", setup=_setup, add_cli=add_cli, on_ready=_on_ready)
