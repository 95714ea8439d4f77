"""The ownership feature: "who owns X?" answered from the responsibilities map."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features import Feature

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services


def _setup(services: Services, router: Router) -> None:
    from bot.features.ownership.handlers import register
    from bot.features.ownership.privacy import OwnershipPrivacy
    from bot.features.ownership.service import OwnershipService
    from bot.privacy import privacy_registry

    register(router, OwnershipService(services.settings.ownership))
    privacy_registry(router).add(OwnershipPrivacy())


def _add_cli(subparsers, common) -> None:  # type: ignore[no-untyped-def]
    from bot.features.ownership.cli import add_cli

    add_cli(subparsers, common)


feature = Feature(name="ownership", setup=_setup, add_cli=_add_cli)
