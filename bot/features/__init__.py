"""Feature packages (ownership, tickets, incidents, tips) and how they plug in.

Each package exposes a :class:`~bot.features.plugin.Plugin` subclass; :func:`default_plugins`
builds them, with their dependencies passed explicitly, in registration order. A new
feature is a package with a plugin class, plus one line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.features.plugin import CliHandler, Plugin

if TYPE_CHECKING:
    from bot.services import Services

__all__ = ["CliHandler", "Plugin", "default_plugins", "plugin_classes"]


def default_plugins(services: Services) -> list[Plugin]:
    """Every feature shipped with the bot, built for ``services``, in registration order."""
    from bot.features.incidents import IncidentsPlugin
    from bot.features.ownership import OwnershipPlugin
    from bot.features.tickets import TicketsPlugin
    from bot.features.tips import TipsPlugin
    from bot.features.triage import TriageVerbs

    triage = TriageVerbs()  # !show/!assign/!status/!note for tickets and incidents
    return [
        OwnershipPlugin(services),
        triage,
        TicketsPlugin(services, triage),
        IncidentsPlugin(services, triage),
        TipsPlugin(services),
    ]


def plugin_classes() -> list[type[Plugin]]:
    """The plugin classes, for what needs no config (the command line)."""
    from bot.features.incidents import IncidentsPlugin
    from bot.features.ownership import OwnershipPlugin
    from bot.features.tickets import TicketsPlugin
    from bot.features.tips import TipsPlugin

    return [OwnershipPlugin, TicketsPlugin, IncidentsPlugin, TipsPlugin]
