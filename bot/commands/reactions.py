"""Reactions and redactions: handed to every feature handler, each event exactly once."""

from __future__ import annotations

import logging

from bot.commands.claims import AlreadyHandled, claim, is_database_error
from bot.commands.context import Outbound, Reaction, Redaction
from bot.commands.registry import Registry
from bot.commands.replies import queue_outbound
from bot.logs import log_unexpected
from bot.metrics import Metrics
from bot.services import Services

log = logging.getLogger("bot.commands.dispatch")


class ReactionDispatch:
    """Runs the registry's reaction and redaction handlers inside one transaction."""

    def __init__(self, services: Services, registry: Registry, *, metrics: Metrics):
        self.services = services
        self.registry = registry
        self.metrics = metrics

    async def handle_reaction(self, reaction: Reaction) -> bool:
        """Give a reaction to every reaction handler, exactly once."""
        if not self.registry.reaction_handlers:
            return False
        try:
            async with self.services.db.sessions.begin() as session:
                try:
                    await claim(session, reaction.event_id, reaction.room_id, self.services.clock())
                except AlreadyHandled:
                    return False
                outbound: list[Outbound] = []
                for handler in self.registry.reaction_handlers:
                    outbound.extend(await handler(reaction, session, self.services) or [])
                await queue_outbound(self.services, session, reaction.event_id, outbound)
        except Exception as exc:
            if is_database_error(exc):
                raise
            log_unexpected(log, exc, "reaction handler failed for %s", reaction.event_id)
            return False
        self.services.outbox.wake()
        return True

    async def handle_redaction(self, redaction: Redaction) -> bool:
        """Give a redaction to every redaction handler, exactly once."""
        try:
            async with self.services.db.sessions.begin() as session:
                try:
                    now = self.services.clock()
                    await claim(session, redaction.event_id, redaction.room_id, now)
                except AlreadyHandled:
                    return False
                # Copies of what the redacted message caused are emptied too.
                await self.services.outbox.scrub_caused_by(session, redaction.redacts)
                for handler in self.registry.redaction_handlers:
                    await handler(redaction, session, self.services)
        except Exception as exc:
            if is_database_error(exc):
                raise
            log_unexpected(log, exc, "redaction handler failed for %s", redaction.event_id)
            return False
        self.metrics.messages.labels("redaction").inc()
        return True
