"""The ownership feature: "who owns X?" answered from the responsibilities map."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features import Feature

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services


# The service of each running bot, for its background job (keyed by id(services)).
_SERVICES: dict[int, object] = {}


def _setup(services: Services, router: Router) -> None:
    from bot.features.ownership.handlers import register
    from bot.features.ownership.privacy import OwnershipPrivacy
    from bot.features.ownership.service import OwnershipService
    from bot.privacy import privacy_registry

    service = OwnershipService(services.settings.ownership, services)
    _SERVICES[id(services)] = (service, router.prefix)
    register(router, service)
    privacy_registry(router).add(OwnershipPrivacy())


async def _on_ready(services: Services) -> None:
    from bot.features.ownership.jobs import run_periodic

    service, prefix = _SERVICES[id(services)]  # type: ignore[misc]

    started = False

    async def check() -> None:
        # The first pass waits one interval: a restart must not greet the owners (and the
        # outbox) with a burst of DMs before the bot has answered anyone.
        nonlocal started
        if started:
            await run_periodic(services, service, prefix)
        started = True

    services.scheduler.every(services.settings.ownership.check_interval, check, "ownership-jobs")


def _add_cli(subparsers, common) -> None:  # type: ignore[no-untyped-def]
    from bot.features.ownership.cli import add_cli

    add_cli(subparsers, common)


feature = Feature(name="ownership", setup=_setup, add_cli=_add_cli, on_ready=_on_ready)
