"""The router: one object that holds the registry and hands messages to dispatch.

What each part does lives in its own module:

* :mod:`bot.commands.registry` - declared commands, natural routes, interceptors, handlers;
* :mod:`bot.commands.parsing` - what a message is for (prefix, mention, natural question);
* :mod:`bot.commands.dispatch` - claim a message, run it, the one error boundary;
* :mod:`bot.commands.reactions` - reactions and redactions to the features' handlers;
* :mod:`bot.commands.unanswered` - unreadable events, and events the bot gave up on;
* :mod:`bot.commands.replies` - replies turned into outbox rows.

Features register on a :class:`Router` (it *is* a :class:`Registry`); the Matrix side
calls its ``handle*`` methods.
"""

from __future__ import annotations

from bot.commands.claims import AlreadyHandled, error_reference_text
from bot.commands.context import IncomingMessage, Reaction, Redaction
from bot.commands.dispatch import Dispatcher
from bot.commands.parsing import Parser, Route
from bot.commands.reactions import ReactionDispatch
from bot.commands.registry import (
    TEAM_PLACES,
    Command,
    Handler,
    Interceptor,
    Matcher,
    NaturalRoute,
    Permission,
    ReactionHandler,
    RedactionHandler,
    Registry,
)
from bot.commands.unanswered import Unanswered
from bot.metrics import Metrics
from bot.services import Services

__all__ = [
    "TEAM_PLACES",
    "AlreadyHandled",
    "Command",
    "Handler",
    "Interceptor",
    "Matcher",
    "NaturalRoute",
    "Permission",
    "ReactionHandler",
    "RedactionHandler",
    "Route",
    "Router",
    "error_reference_text",
]


class Router(Registry):
    """The registry of one bot, wired to its parser and dispatcher."""

    def __init__(self, services: Services, *, metrics: Metrics | None = None):
        super().__init__(
            prefix=services.settings.bot.command_prefix,
            is_security_team=services.is_security_team,
        )
        self.services = services
        self.metrics = metrics or services.outbox.metrics
        self.parser = Parser(self, services.settings)
        self.dispatcher = Dispatcher(services, self, self.parser, metrics=self.metrics)
        self.reactions = ReactionDispatch(services, self, metrics=self.metrics)
        self.unanswered = Unanswered(services, metrics=self.metrics)

    def route(self, msg: IncomingMessage) -> Route | None:
        """Decide what ``msg`` is for, without side effects (None: not for the bot)."""
        return self.parser.route(msg)

    async def handle(self, msg: IncomingMessage) -> bool:
        """Handle one message exactly once (see :meth:`Dispatcher.handle`)."""
        return await self.dispatcher.handle(msg)

    async def handle_unreadable(self, *, event_id: str, room_id: str, text: str | None) -> bool:
        """Record an event the bot could not read (see :meth:`Unanswered.handle_unreadable`)."""
        return await self.unanswered.handle_unreadable(
            event_id=event_id, room_id=room_id, text=text
        )

    async def give_up(self, *, event_id: str, room_id: str, reason: str, reply: bool) -> bool:
        """Stop retrying an event that kept failing (see :meth:`Unanswered.give_up`)."""
        return await self.unanswered.give_up(
            event_id=event_id, room_id=room_id, reason=reason, reply=reply
        )

    async def handle_reaction(self, reaction: Reaction) -> bool:
        """Give a reaction to every reaction handler, exactly once."""
        return await self.reactions.handle_reaction(reaction)

    async def handle_redaction(self, redaction: Redaction) -> bool:
        """Give a redaction to every redaction handler, exactly once."""
        return await self.reactions.handle_redaction(redaction)

    def team_places_text(self) -> str:
        """The one refusal for a team command outside the triage room and DMs."""
        return self.dispatcher.team_places_text()
