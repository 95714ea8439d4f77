"""Imports every table module so Alembic and tests see the whole schema."""

import bot.features.incidents.models
import bot.features.ownership.models
import bot.features.tickets.models
import bot.features.tips.models
import bot.storage.models
import bot.web.models  # noqa: F401
