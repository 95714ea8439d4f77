"""The whole configuration tree: the foundation's sections plus each feature's own.

Each feature owns its section model (``bot/features/<name>/settings.py``); this module
composes them with :class:`bot.config.CoreSettings` so that ``bot.config`` imports no
feature. A new feature section is one field here.
"""

from __future__ import annotations

import os

from pydantic import Field

from bot.config import CoreSettings
from bot.configfile import load_settings
from bot.features.incidents.settings import IncidentsSettings
from bot.features.ownership.settings import OwnershipSettings
from bot.features.tickets.settings import TicketsSettings
from bot.features.tips.settings import TipsSettings

__all__ = ["Settings", "load_config"]


class Settings(CoreSettings):
    """The whole configuration tree."""

    ownership: OwnershipSettings = Field(default_factory=OwnershipSettings)
    tickets: TicketsSettings = Field(default_factory=TicketsSettings)
    incidents: IncidentsSettings = Field(default_factory=IncidentsSettings)
    tips: TipsSettings = Field(default_factory=TipsSettings)


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load and validate the configuration (see :func:`bot.configfile.load_settings`).

    Raises:
        ConfigError: naming each offending key and its problem.
    """
    return load_settings(Settings, path)
