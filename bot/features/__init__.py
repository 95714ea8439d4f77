"""Feature packages (ownership, tickets, incidents, tips) and how they plug in.

Each package exposes ``feature``: a :class:`Feature` whose ``setup`` registers its
commands on the router and its background jobs on the scheduler, and whose ``add_cli``
adds its subcommands to ``helpdesk-bot``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.commands.router import Router
    from bot.services import Services

# A CLI subcommand handler: gets the parsed args, returns the process exit code.
CliHandler = Callable[[argparse.Namespace], Awaitable[int] | int]


@dataclass(frozen=True)
class Feature:
    name: str
    setup: Callable[[Services, Router], None]
    # add_cli(subparsers, common): add subcommands; pass parents=[common] so --config works.
    add_cli: Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None] | None = None  # type: ignore[type-arg]
    # Called once the bot has synced and joined its rooms (e.g. to start schedules).
    on_ready: Callable[[Services], Awaitable[None]] | None = None


def all_features() -> list[Feature]:
    """Every feature shipped with the bot, in registration order."""
    from bot.features import incidents, ownership, tickets, tips

    return [ownership.feature, tickets.feature, incidents.feature, tips.feature]
