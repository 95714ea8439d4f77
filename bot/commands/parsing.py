"""Recognising what a message is for: a prefixed command, a mention, a natural question."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from bot.commands.context import IncomingMessage
from bot.commands.registry import Command, Handler, Registry, SubCommand

if TYPE_CHECKING:
    from bot.settings import Settings


@dataclass(frozen=True)
class Route:
    kind: str  # "command" | "natural" | "unknown" | "too_long" | "intercept"
    name: str = ""
    args: str = ""
    command: Command | None = None
    handler: Handler | None = None
    sub: SubCommand | None = None  # the declared sub-command named (``args`` follow it)


def mention_pattern(user_id: str, display_name: str) -> re.Pattern[str]:
    """What addressing the bot at the start of a message looks like.

    ``@localpart:server`` (or ``@localpart``) may be followed by ``:``/``,`` or just a
    space; a bare name (the display name, or the localpart) only counts with ``:`` or
    ``,`` after it, so "helpdesk is down again" is not addressed to the bot.
    """
    localpart = user_id[1:].split(":", 1)[0]
    ids = _alternatives({user_id, "@" + localpart})
    names = _alternatives({localpart, display_name})
    return re.compile(rf"^\s*(?:(?:{ids})\s*[:,]?|(?:{names})\s*[:,])\s+", re.IGNORECASE)


def _alternatives(words: set[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# A link at the very start of the HTML body (optionally inside a paragraph).
_LEADING_LINK = re.compile(
    r"""^\s*(?:<p>\s*)?<a\s+href\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a>""",
    re.IGNORECASE | re.DOTALL,
)
_PILL_PREFIX = ("https://matrix.to/#/", "matrix:u/")


def leading_pill(formatted_body: str | None, user_id: str) -> str | None:
    """The text of a pill to ``user_id`` that starts ``formatted_body`` (None: no such pill)."""
    match = _LEADING_LINK.match(formatted_body or "")
    if match is None:
        return None
    target = unquote(html.unescape(match.group(1)))
    for prefix in _PILL_PREFIX:
        if target.startswith(prefix):
            target = target[len(prefix) :]
            target = "@" + target if prefix == "matrix:u/" else target
            break
    else:
        return None
    if target.split("?", 1)[0] != user_id:
        return None
    return html.unescape(re.sub(r"<[^>]*>", "", match.group(2))).strip()


def _pills_bot(formatted_body: str | None, user_id: str) -> bool:
    """Whether ``formatted_body`` holds a pill to ``user_id`` anywhere."""
    body = unquote(formatted_body or "")
    return f"matrix.to/#/{user_id}" in body


def _command_route(command: Command, args: str) -> Route:
    sub, rest = command.subcommand(args)
    if sub is None:
        return Route("command", command.name, args.strip(), command, command.handler)
    return Route("command", command.name, rest, command, sub.handler, sub)


class Parser:
    """Turns an incoming message into a :class:`Route`, without side effects."""

    def __init__(self, registry: Registry, settings: Settings):
        self.registry = registry
        self.prefix = settings.bot.command_prefix
        self.max_length = settings.bot.max_message_length
        self.user_id = settings.matrix.user_id
        self._mention = mention_pattern(self.user_id, settings.bot.display_name)

    def route(self, msg: IncomingMessage) -> Route | None:
        """Decide what ``msg`` is for, without side effects (None: not for the bot)."""
        addressed, text = self.addressed(msg)
        addressed = addressed or msg.is_direct
        if len(text) > self.max_length:
            return Route("too_long") if (addressed or text.startswith(self.prefix)) else None
        if text.startswith(self.prefix):
            name, _, args = text[len(self.prefix) :].partition(" ")
            command = self.registry.lookup(name.strip())
            if command is None:
                return Route("unknown", name=name) if addressed else None
            return _command_route(command, args)
        if addressed:
            name, _, args = text.partition(" ")
            command = self.registry.lookup(name) if name else None
            if command is not None:
                return _command_route(command, args)
        for natural in self.registry.naturals:
            if msg.room_kind not in natural.rooms and not addressed:
                continue
            args = natural.matcher(text)
            if args is not None:
                return Route("natural", natural.name, args, handler=natural.handler)
        if addressed:
            return Route("unknown", name=text.split(" ", 1)[0] if text else "")
        return None

    def addressed(self, msg: IncomingMessage) -> tuple[bool, str]:
        """Whether ``msg`` starts by addressing the bot, and its text without that part.

        Addressed: a pill to the bot at the start, ``@localpart:server`` or "Display name:"
        at the start, or an explicit ``m.mentions`` of the bot with no pill in the text
        (a pill further on is someone talking *about* the bot, not to it).
        """
        text = msg.body.strip()
        stripped = self._mention.sub("", text, count=1)
        if stripped != text:
            return True, stripped.strip()
        pill = leading_pill(msg.formatted_body, self.user_id)
        if pill is not None:
            if pill and text.lower().startswith(pill.lower()):
                text = text[len(pill) :].lstrip().removeprefix(":").removeprefix(",")
            return True, text.strip()
        if msg.mentions_bot and not _pills_bot(msg.formatted_body, self.user_id):
            return True, text
        return False, text
