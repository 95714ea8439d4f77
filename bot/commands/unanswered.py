"""Events answered without a handler: unreadable ones, and ones the bot gave up on.

Both are claimed like any message, so the notice goes out exactly once.
"""

from __future__ import annotations

import logging
import secrets

from bot.commands.claims import AlreadyHandled, claim, error_reference_text
from bot.commands.replies import queue_text_reply
from bot.metrics import Metrics
from bot.services import Services

log = logging.getLogger("bot.commands.dispatch")


class Unanswered:
    """Marks unreadable or failing events handled, with at most one notice each."""

    def __init__(self, services: Services, *, metrics: Metrics):
        self.services = services
        self.metrics = metrics

    async def handle_unreadable(self, *, event_id: str, room_id: str, text: str | None) -> bool:
        """Record an event the bot could not read; reply ``text`` to it (if any), once.

        Used for encrypted messages whose key the bot never received. Returns False if
        the event had been handled already.
        """
        async with self.services.db.sessions.begin() as session:
            try:
                await claim(session, event_id, room_id, self.services.clock())
            except AlreadyHandled:
                self.metrics.messages.labels("duplicate").inc()
                return False
            if text is not None:
                await queue_text_reply(
                    self.services, session, event_id=event_id, room_id=room_id, text=text
                )
        self.metrics.messages.labels("unreadable").inc()
        self.services.outbox.wake()
        return True

    async def give_up(self, *, event_id: str, room_id: str, reason: str, reply: bool) -> bool:
        """Stop retrying an event that kept failing: mark it handled, answer a reference.

        Called by the dispatcher after ``bot.max_event_attempts`` (handler timeouts or
        unexpected failures), so the person hears about it instead of silence. Returns
        False if the event had been handled meanwhile.
        """
        ref = secrets.token_hex(4)
        log.error("giving up on event %s in %s after %s ref=%s", event_id, room_id, reason, ref)
        async with self.services.db.sessions.begin() as session:
            try:
                await claim(session, event_id, room_id, self.services.clock())
            except AlreadyHandled:
                return False
            if reply:
                text = error_reference_text(ref)
                await queue_text_reply(
                    self.services, session, event_id=event_id, room_id=room_id, text=text
                )
        self.metrics.messages.labels("gave_up").inc()
        self.services.outbox.wake()
        return True
