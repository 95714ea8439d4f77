"""Starting and stopping the plugins: in order, each on its own.

A startup hiccup (the database restarting, say) in one feature must not leave the others
without their background jobs for the life of the process: a failed ``start`` is logged
and retried with backoff for that plugin alone. Stopping goes in reverse order, and one
plugin failing to stop does not keep the others running.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.backoff import Backoff
from bot.features.plugin import Plugin
from bot.logs import log_unexpected

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0


async def start_plugins(plugins: Sequence[Plugin], scheduler: Scheduler) -> None:
    """Start each plugin in order; one that fails is retried in the background."""
    for plugin in plugins:
        if not await _start(plugin):
            scheduler.spawn(_retry(plugin), f"{plugin.name} start")


async def stop_plugins(plugins: Sequence[Plugin]) -> None:
    """Stop the plugins in reverse order."""
    for plugin in reversed(plugins):
        try:
            await plugin.stop()
        except Exception as exc:
            log_unexpected(log, exc, "feature %s failed to stop", plugin.name)


async def _start(plugin: Plugin) -> bool:
    try:
        await plugin.start()
        return True
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log_unexpected(log, exc, "feature %s failed to start; will retry", plugin.name)
        return False


async def _retry(plugin: Plugin) -> None:
    backoff = Backoff(RETRY_SECONDS, RETRY_MAX_SECONDS)
    while True:
        await backoff.sleep()
        if await _start(plugin):
            log.info("feature %s started after a retry", plugin.name)
            return
