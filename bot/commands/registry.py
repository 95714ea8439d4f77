"""The command registry: declared commands, natural routes, interceptors and event handlers.

Features add what they offer here (``registry.command(...)``, ``registry.natural(...)``);
parsing looks commands up in it, dispatch runs what it holds, ``!help`` lists it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
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


# ``extra=IGNORED``: words beyond the declared arguments are dropped, not refused.
IGNORED = ""


class ArgKind(StrEnum):
    WORD = "word"  # one word, as typed
    TEXT = "text"  # the rest of the message (last argument only)
    NUMBER = "number"  # a small number in ASCII digits ("#12" too) -> int
    CASE = "case"  # T-12, INC-3, t12, #12 -> bot.ids.CaseRef
    USER = "user"  # @name:server -> bot.ids.UserId


@dataclass(frozen=True)
class Arg:
    """One declared argument; its parsed value is ``ctx.params[name]`` (None if omitted).

    ``missing`` and ``invalid`` are the friendly texts a person gets when it is absent or
    malformed (``{prefix}`` is replaced by the command prefix, ``{word!r}`` by the word
    typed, quoted). ``choices``: a word that must be one of these (lower-cased).
    """

    name: str
    kind: ArgKind = ArgKind.WORD
    optional: bool = False
    missing: str | None = None
    invalid: str | None = None
    shape: str = ""  # what usage lines show instead of <name> (e.g. "<area> <text>")
    choices: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        if self.shape:
            return self.shape
        return f"[{self.name}]" if self.optional else f"<{self.name}>"


@dataclass(frozen=True)
class SubCommand:
    """``!command name args...`` with its own handler, help, arguments and permission.

    A team-only sub-command is refused to others with ``refusal`` (``{prefix}`` replaced;
    default "Sorry, !command name is for the security team.") and hidden from their help.
    Unlike a team-only command it works wherever its command does.
    """

    name: str
    handler: Handler
    summary: str
    args: tuple[Arg, ...] = ()
    permission: Permission = Permission.EVERYONE
    aliases: tuple[str, ...] = ()
    refusal: str | None = None
    extra: str | None = None  # see Command.extra

    def matches(self, word: str) -> bool:
        return word.lower() in (self.name, *self.aliases)


@dataclass(frozen=True)
class ForOthers:
    """What a team-only command does for someone outside the team, instead of refusing.

    Only in the team's places (elsewhere everyone gets the same refusal), e.g. a
    reporter's ``!status INC-3`` about their own case in a DM. When the text does not
    read as ``args``, or ``handler`` returns None, the person gets the usual refusal.
    """

    handler: Handler
    args: tuple[Arg, ...] = ()


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    summary: str
    usage: str = ""
    permission: Permission = Permission.EVERYONE
    aliases: tuple[str, ...] = ()
    group: str = "General"
    # Declared sub-commands (``!tip preview 5``); ``handler`` runs when none matches.
    subcommands: tuple[SubCommand, ...] = ()
    args: tuple[Arg, ...] = ()
    # The usage error for words beyond ``args`` ({prefix} replaced); IGNORED drops them;
    # None: "I didn't expect ... there."
    extra: str | None = None
    others: ForOthers | None = None  # a team-only command's answer to the others

    def subcommand(self, args: str) -> tuple[SubCommand | None, str]:
        """The sub-command named by the first word of ``args``, and the words after it."""
        word, _, rest = args.strip().partition(" ")
        for sub in self.subcommands:
            if sub.matches(word):
                return sub, rest.strip()
        return None, args


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

    def command(
        self,
        name: str,
        *,
        summary: str,
        usage: str = "",
        permission: Permission = Permission.EVERYONE,
        aliases: tuple[str, ...] = (),
        group: str = "General",
        args: tuple[Arg, ...] = (),
        extra: str | None = None,
        others: ForOthers | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine as ``!name``."""

        def decorate(handler: Handler) -> Handler:
            command = Command(name, handler, summary, usage, permission, aliases, group)
            self.add(replace(command, args=args, extra=extra, others=others))
            return handler

        return decorate

    def subcommand(
        self,
        parent: str,
        name: str,
        *,
        summary: str,
        args: tuple[Arg, ...] = (),
        permission: Permission = Permission.EVERYONE,
        aliases: tuple[str, ...] = (),
        refusal: str | None = None,
        extra: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine as ``!parent name`` (``parent`` declared first)."""

        def decorate(handler: Handler) -> Handler:
            sub = SubCommand(name, handler, summary, args, permission, aliases, refusal, extra)
            self.add_subcommand(parent, sub)
            return handler

        return decorate

    def add_subcommand(self, parent: str, sub: SubCommand) -> None:
        """Add ``sub`` to the command ``parent``; its names must be unique there."""
        command = self._commands[parent]
        if any(s.matches(n) for s in command.subcommands for n in (sub.name, *sub.aliases)):
            raise ValueError(f"sub-command {parent} {sub.name!r} registered twice")
        self._commands[parent] = replace(command, subcommands=(*command.subcommands, sub))

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
        """Commands ``user_id`` may run (or that answer them, see :class:`ForOthers`)."""
        team = self._is_security_team(user_id)
        everyone = Permission.EVERYONE
        return [
            c
            for c in self._commands.values()
            if c.permission is everyone or team or c.others is not None
        ]

    def visible_subcommands(self, command: Command, user_id: str) -> list[SubCommand]:
        """Sub-commands of ``command`` that ``user_id`` may run, for ``!help``."""
        team = self._is_security_team(user_id)
        return [s for s in command.subcommands if s.permission is Permission.EVERYONE or team]

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
