"""Recognising what a message is for: a prefixed command, a mention, a natural question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.commands.context import IncomingMessage
from bot.commands.registry import Command, Handler, Registry

if TYPE_CHECKING:
    from bot.config import Settings


@dataclass(frozen=True)
class Route:
    kind: str  # "command" | "natural" | "unknown" | "too_long" | "intercept"
    name: str = ""
    args: str = ""
    command: Command | None = None
    handler: Handler | None = None


def mention_pattern(user_id: str, display_name: str) -> re.Pattern[str]:
    """What addressing the bot at the start of a message looks like."""
    localpart = user_id[1:].split(":", 1)[0]
    names = {
        re.escape(user_id),
        re.escape("@" + localpart),
        re.escape(localpart),
        re.escape(display_name),
    }
    alternatives = "|".join(sorted(names, key=len, reverse=True))
    return re.compile(rf"^\s*(?:{alternatives})\s*[:,]?\s+", re.IGNORECASE)


class Parser:
    """Turns an incoming message into a :class:`Route`, without side effects."""

    def __init__(self, registry: Registry, settings: Settings):
        self.registry = registry
        self.prefix = settings.bot.command_prefix
        self.max_length = settings.bot.max_message_length
        self._mention = mention_pattern(settings.matrix.user_id, settings.bot.display_name)

    def route(self, msg: IncomingMessage) -> Route | None:
        """Decide what ``msg`` is for, without side effects (None: not for the bot)."""
        text = msg.body.strip()
        addressed = msg.is_direct
        stripped = self._mention.sub("", text, count=1)
        if stripped != text or msg.mentions_bot:
            addressed = True
            text = stripped.strip()
        if len(text) > self.max_length:
            return Route("too_long") if (addressed or text.startswith(self.prefix)) else None
        if text.startswith(self.prefix):
            name, _, args = text[len(self.prefix) :].partition(" ")
            command = self.registry.lookup(name.strip())
            if command is None:
                return Route("unknown", name=name) if addressed else None
            return Route("command", command.name, args.strip(), command, command.handler)
        if addressed:
            name, _, args = text.partition(" ")
            command = self.registry.lookup(name) if name else None
            if command is not None:
                return Route("command", command.name, args.strip(), command, command.handler)
        for natural in self.registry.naturals:
            if msg.room_kind not in natural.rooms and not addressed:
                continue
            args = natural.matcher(text)
            if args is not None:
                return Route("natural", natural.name, args, handler=natural.handler)
        if addressed:
            return Route("unknown", name=text.split(" ", 1)[0] if text else "")
        return None
