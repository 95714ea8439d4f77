"""The command registry: declared commands, natural routes, interceptors and event handlers.

Features add what they offer here (``registry.command(...)``, ``registry.natural(...)``);
parsing looks commands up in it, dispatch runs what it holds, ``!help`` lists it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.commands.context import CommandContext, Outbound, Reaction, Redaction, Reply, RoomKind

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.services import Services

Handler = Callable[[CommandContext], Awaitable[Reply | None]]
ReactionHandler = Callable[[Reaction, "AsyncSession", "Services"], Awaitable[list[Outbound] | None]]
RedactionHandler = Callable[[Redaction, "AsyncSession", "Services"], Awaitable[None]]
# A natural-language matcher returns the command's argument text, or None.
Matcher = Callable[[str], str | None]


class Permission(StrEnum):
    EVERYONE = "everyone"
    SECURITY_TEAM = "security_team"


# Where the security team's commands work: the team's own room, or a DM with the bot.
TEAM_PLACES = frozenset({RoomKind.TRIAGE, RoomKind.DIRECT})


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    summary: str
    usage: str = ""
    permission: Permission = Permission.EVERYONE
    aliases: tuple[str, ...] = ()
    group: str = "General"


@dataclass(frozen=True)
class NaturalRoute:
    name: str
    matcher: Matcher
    handler: Handler
    rooms: frozenset[RoomKind]


@dataclass(frozen=True)
class Interceptor:
    """Sees a message before command parsing (e.g. a guided intake in a DM).

    ``handler`` returns a Reply to consume the message, or None to let it through.
    """

    name: str
    handler: Handler
    # The ``outcome`` label of ``helpdesk_messages_total`` for a message it took.
    outcome: str = "intercept"


class Registry:
    """What the bot can do: commands declared with their help text and permission."""

    def __init__(self, *, prefix: str, is_security_team: Callable[[str], bool]):
        self.prefix = prefix
        self._is_security_team = is_security_team
        self._commands: dict[str, Command] = {}
        self._aliases: dict[str, str] = {}
        self._natural: list[NaturalRoute] = []
        self._interceptors: list[Interceptor] = []
        self._reaction_handlers: list[ReactionHandler] = []
        self._redaction_handlers: list[RedactionHandler] = []
        # Objects features share through the registry (e.g. the triage verbs registry).
        self.shared: dict[str, object] = {}

    def command(
        self,
        name: str,
        *,
        summary: str,
        usage: str = "",
        permission: Permission = Permission.EVERYONE,
        aliases: tuple[str, ...] = (),
        group: str = "General",
    ) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine as ``!name``."""

        def decorate(handler: Handler) -> Handler:
            self.add(Command(name, handler, summary, usage, permission, aliases, group))
            return handler

        return decorate

    def add(self, command: Command) -> None:
        """Register a command; names and aliases must be unique."""
        for key in (command.name, *command.aliases):
            if key in self._commands or key in self._aliases:
                raise ValueError(f"command {key!r} registered twice")
        self._commands[command.name] = command
        for alias in command.aliases:
            self._aliases[alias] = command.name

    def natural(
        self,
        name: str,
        matcher: Matcher,
        handler: Handler,
        *,
        rooms: tuple[RoomKind, ...] = (RoomKind.HELPDESK, RoomKind.DIRECT),
    ) -> None:
        """Route plain-language messages (no prefix) that ``matcher`` recognises."""
        self._natural.append(NaturalRoute(name, matcher, handler, frozenset(rooms)))

    def intercept(self, name: str, handler: Handler, *, outcome: str = "intercept") -> None:
        """Let ``handler`` look at every message first (see :class:`Interceptor`)."""
        self._interceptors.append(Interceptor(name, handler, outcome))

    def on_reaction(self, handler: ReactionHandler) -> None:
        """Call ``handler`` for every reaction in a room the bot is in."""
        self._reaction_handlers.append(handler)

    def on_redaction(self, handler: RedactionHandler) -> None:
        """Call ``handler`` for every redaction (a reaction taken back, a message deleted:
        features erase what they kept of it)."""
        self._redaction_handlers.append(handler)

    def lookup(self, name: str) -> Command | None:
        """The command called ``name`` (or an alias of it)."""
        name = name.lower()
        return self._commands.get(self._aliases.get(name, name))

    def visible_commands(self, user_id: str) -> list[Command]:
        """Commands ``user_id`` may run, for ``!help``."""
        team = self._is_security_team(user_id)
        return [c for c in self._commands.values() if c.permission is Permission.EVERYONE or team]

    @property
    def commands(self) -> list[Command]:
        """Every registered command, in registration order."""
        return list(self._commands.values())

    # Read-only views for parsing and dispatch (not copied: they run per message).

    @property
    def naturals(self) -> Sequence[NaturalRoute]:
        return self._natural

    @property
    def interceptors(self) -> Sequence[Interceptor]:
        return self._interceptors

    @property
    def reaction_handlers(self) -> Sequence[ReactionHandler]:
        return self._reaction_handlers

    @property
    def redaction_handlers(self) -> Sequence[RedactionHandler]:
        return self._redaction_handlers
