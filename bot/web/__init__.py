"""The health and metrics endpoint (aiohttp)."""

from bot.web.server import WebServer

__all__ = ["WebServer"]
