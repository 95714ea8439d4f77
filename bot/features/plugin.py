"""The shape of a feature: a plugin object the app builds, registers, starts and stops.

A plugin is built with what it needs, passed explicitly (``Services``, another plugin such
as the shared triage verbs); nothing is looked up in module-level registries. The app
(:mod:`bot.app`) then, in list order:

1. ``register(router)``: commands, natural-language routes, interceptors, reaction and
   redaction handlers;
2. adds ``privacy_providers()`` to ``!privacy`` / ``!forget me``;
3. ``await start()`` once the rooms are joined (schedule jobs). A failure is logged and
   retried for that plugin alone; the others start regardless;
4. ``await stop()`` on shutdown, in reverse order.

``add_cli`` is a classmethod: the command line is built before any config is loaded.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.privacy import PrivacyProvider

# A CLI subcommand handler: gets the parsed args, returns the process exit code.
CliHandler = Callable[[argparse.Namespace], Awaitable[int] | int]
SubParsers = argparse._SubParsersAction  # type: ignore[type-arg]


class Plugin:
    """Base class of the features; every hook is optional (the defaults do nothing)."""

    name: ClassVar[str] = ""

    def register(self, router: Router) -> None:
        """Add this feature's commands, routes, interceptors and event handlers."""

    def privacy_providers(self) -> Sequence[PrivacyProvider]:
        """What this feature contributes to ``!privacy`` and ``!forget me``."""
        return ()

    @classmethod
    def add_cli(cls, subparsers: SubParsers, common: argparse.ArgumentParser) -> None:
        """Add ``helpdesk-bot`` subcommands; pass ``parents=[common]`` so --config works."""

    async def start(self) -> None:
        """Once the bot has synced and joined its rooms: start background jobs.

        May be called again after a failure (the app retries it with backoff), so it must
        not double-schedule what a failed attempt already scheduled.
        """

    async def stop(self) -> None:
        """On shutdown (reverse start order), before the scheduler cancels its jobs."""
