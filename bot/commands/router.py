"""The command router: registry, parsing, permissions and the one error boundary.

Every message that reaches the bot goes through :meth:`Router.handle`, which claims the
event in the database, runs the handler in that same transaction, and commits the
handler's changes together with its replies (queued in the outbox). A crash at any
point therefore either leaves nothing (the event is processed again) or leaves the
replies committed (they are sent on restart, de-duplicated by transaction id).
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import (
    CommandContext,
    IncomingMessage,
    Outbound,
    Reaction,
    Redaction,
    Reply,
    RoomKind,
)
from bot.commands.errors import PermissionDenied, RateLimited, UsageError, UserError
from bot.limits import ROOM_NOTICE, Verdict
from bot.logs import log_unexpected
from bot.matrix.content import message_content, reaction_content
from bot.metrics import Metrics
from bot.services import Services
from bot.storage.errors import is_transient
from bot.storage.models import HandledEvent

log = logging.getLogger(__name__)

Handler = Callable[[CommandContext], Awaitable[Reply | None]]
ReactionHandler = Callable[[Reaction, AsyncSession, Services], Awaitable[list[Outbound] | None]]
RedactionHandler = Callable[[Redaction, AsyncSession, Services], Awaitable[None]]
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


@dataclass(frozen=True)
class Route:
    kind: str  # "command" | "natural" | "unknown" | "too_long" | "intercept"
    name: str = ""
    args: str = ""
    command: Command | None = None
    handler: Handler | None = None


def error_reference_text(ref: str) -> str:
    """What a person is told when handling their message failed (never the cause)."""
    return (
        f"Sorry, something went wrong on my side (ref: {ref}). "
        "The security team can look it up with that reference."
    )


class AlreadyHandled(Exception):
    """Another process (or an earlier run) already handled this event."""


class Router:
    """Commands declared with their help text and permission, on an instance."""

    def __init__(self, services: Services, *, metrics: Metrics | None = None):
        self.services = services
        self.metrics = metrics or services.outbox.metrics
        self.prefix = services.settings.bot.command_prefix
        self._commands: dict[str, Command] = {}
        self._aliases: dict[str, str] = {}
        self._natural: list[NaturalRoute] = []
        self._interceptors: list[Interceptor] = []
        self._reaction_handlers: list[ReactionHandler] = []
        self._redaction_handlers: list[RedactionHandler] = []
        self._mention = self._mention_pattern()
        # Objects features share through the router (e.g. the triage verbs registry).
        self.shared: dict[str, object] = {}

    # -- registry -----------------------------------------------------------------

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

    def intercept(self, name: str, handler: Handler) -> None:
        """Let ``handler`` look at every message first (see :class:`Interceptor`)."""
        self._interceptors.append(Interceptor(name, handler))

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
        team = self.services.is_security_team(user_id)
        return [c for c in self._commands.values() if c.permission is Permission.EVERYONE or team]

    # -- parsing ------------------------------------------------------------------

    def _mention_pattern(self) -> re.Pattern[str]:
        user_id = self.services.settings.matrix.user_id
        localpart = user_id[1:].split(":", 1)[0]
        names = {
            re.escape(user_id),
            re.escape("@" + localpart),
            re.escape(localpart),
            re.escape(self.services.settings.bot.display_name),
        }
        alternatives = "|".join(sorted(names, key=len, reverse=True))
        return re.compile(rf"^\s*(?:{alternatives})\s*[:,]?\s+", re.IGNORECASE)

    def route(self, msg: IncomingMessage) -> Route | None:
        """Decide what ``msg`` is for, without side effects (None: not for the bot)."""
        text = msg.body.strip()
        addressed = msg.is_direct
        stripped = self._mention.sub("", text, count=1)
        if stripped != text or msg.mentions_bot:
            addressed = True
            text = stripped.strip()
        if len(text) > self.services.settings.bot.max_message_length:
            return Route("too_long") if (addressed or text.startswith(self.prefix)) else None
        if text.startswith(self.prefix):
            name, _, args = text[len(self.prefix) :].partition(" ")
            command = self.lookup(name.strip())
            if command is None:
                return Route("unknown", name=name) if addressed else None
            return Route("command", command.name, args.strip(), command, command.handler)
        if addressed:
            name, _, args = text.partition(" ")
            command = self.lookup(name) if name else None
            if command is not None:
                return Route("command", command.name, args.strip(), command, command.handler)
        for natural in self._natural:
            if msg.room_kind not in natural.rooms and not addressed:
                continue
            args = natural.matcher(text)
            if args is not None:
                return Route("natural", natural.name, args, handler=natural.handler)
        if addressed:
            return Route("unknown", name=text.split(" ", 1)[0] if text else "")
        return None

    # -- handling -----------------------------------------------------------------

    async def handle(self, msg: IncomingMessage) -> bool:
        """Handle one message exactly once. Returns False if it had been handled already.

        Raises:
            Exception: only when the database itself fails; the caller retries later
                and must not advance its sync position past ``msg``.
        """
        started = time.perf_counter()
        try:
            outcome = await self._handle(msg)
        except AlreadyHandled:
            self.metrics.messages.labels("duplicate").inc()
            return False
        self.metrics.messages.labels(outcome).inc()
        self.metrics.handle_seconds.observe(time.perf_counter() - started)
        self.services.outbox.wake()
        return True

    async def _handle(self, msg: IncomingMessage) -> str:
        try:
            route = self.route(msg)
        except Exception as exc:  # a broken matcher must not stall the sync loop forever
            log_unexpected(log, exc, f"routing event {msg.event_id} failed")
            route = None
        try:
            async with self.services.db.sessions.begin() as session:
                await self._claim(session, msg.event_id, msg.room_id)
                ctx = self._context(msg, route, session)
                if route is not None and not ctx.is_security_team:
                    self.services.rate_limit("commands", msg.sender)
                reply = await self._run(ctx, route)
                await self._queue(session, msg, reply, ctx.outbound)
            return route.kind if route else "ignored"
        except AlreadyHandled:
            raise
        except RateLimited as exc:
            reply = None if exc.silent else Reply(exc.message)
            outcome = "limited"
        except UserError as exc:
            reply = Reply(self._user_error_text(exc, route))
            if route and route.command:
                self.metrics.commands.labels(route.command.name, "refused").inc()
            outcome = "user_error"
        except Exception as exc:
            if _is_database_error(exc):
                raise
            ref = secrets.token_hex(4)
            log_unexpected(
                log,
                exc,
                "unexpected error handling event %s (route %s) ref=%s",
                msg.event_id,
                route.name if route else "-",
                ref,
            )
            reply = Reply(error_reference_text(ref))
            outcome = "error"
        async with self.services.db.sessions.begin() as session:
            await self._claim(session, msg.event_id, msg.room_id)
            await self._queue(session, msg, reply, [])
        return outcome

    async def _claim(self, session: AsyncSession, event_id: str, room_id: str) -> None:
        """Record ``event_id`` as handled in this transaction; the unique key is the claim.

        A concurrent replica inserting the same id waits for this transaction and then
        fails, so only one of them ever handles an event.
        """
        session.add(
            HandledEvent(event_id=event_id, room_id=room_id, handled_at=self.services.clock())
        )
        try:
            await session.flush()
        except IntegrityError:
            raise AlreadyHandled(event_id) from None

    def _context(
        self, msg: IncomingMessage, route: Route | None, session: AsyncSession
    ) -> CommandContext:
        return CommandContext(
            message=msg,
            command=route.name if route else "",
            args=route.args if route else "",
            session=session,
            services=self.services,
            is_security_team=self.services.is_security_team(msg.sender),
        )

    async def _run(self, ctx: CommandContext, route: Route | None) -> Reply | None:
        explicit = (
            route is not None
            and route.kind == "command"
            and ctx.message.body.lstrip().startswith(self.prefix)
        )
        # An explicit !command always wins over a conversation in progress; an overlong
        # message reaches no interceptor (intake answers, DM comments, kept thread
        # messages are bounded like commands).
        overlong = len(ctx.message.body) > self.services.settings.bot.max_message_length
        for interceptor in [] if explicit or overlong else self._interceptors:
            reply = await interceptor.handler(ctx)
            if reply is not None:
                return reply
        if route is None:
            return None
        if route.kind == "too_long":
            limit = self.services.settings.bot.max_message_length
            raise UserError(
                f"That message is too long for me (over {limit} characters). "
                "Please shorten it, or split it into a few messages."
            )
        if route.kind == "unknown":  # only routed when the message was addressed to us
            if not route.name:
                return Reply(f"Hello! Send {self.prefix}help to see what I can do.")
            return Reply(
                f"I don't know {route.name!r}. Send {self.prefix}help to see what I can do."
            )
        if route.command is not None:
            team_only = route.command.permission is Permission.SECURITY_TEAM
            if team_only and ctx.message.room_kind not in TEAM_PLACES:
                # The same answer for everyone, team or not: nothing about cases goes public.
                raise PermissionDenied(self.team_places_text())
            if team_only and not ctx.is_security_team:
                raise PermissionDenied(
                    f"Sorry, {self.prefix}{route.command.name} is for the security team. "
                    f"If you need their help, {self.prefix}ticket reaches them privately."
                )
            assert route.handler is not None
            reply = await route.handler(ctx)
            self.metrics.commands.labels(route.command.name, "ok").inc()
            return reply
        assert route.handler is not None
        return await route.handler(ctx)

    def team_places_text(self) -> str:
        """The one refusal for a team command outside the triage room and DMs."""
        return (
            "For the reporters' privacy, the security team's commands work only in the triage "
            "room or in a direct message with me. If you need the team's help, "
            f"{self.prefix}ticket reaches them privately."
        )

    def _user_error_text(self, exc: UserError, route: Route | None) -> str:
        if isinstance(exc, UsageError) and route and route.command and route.command.usage:
            return f"{exc.message}\nUsage: {self.prefix}{route.command.usage}"
        return exc.message

    async def _queue(
        self,
        session: AsyncSession,
        msg: IncomingMessage,
        reply: Reply | None,
        outbound: list[Outbound],
    ) -> None:
        if reply is not None and msg.room_id != self.services.rooms.triage:
            limits = self.services.limits
            verdict = limits.check(limits.replies, msg.room_id)
            if verdict is not Verdict.OK:
                reply = Reply(ROOM_NOTICE) if verdict is Verdict.NOTIFY else None
        if reply is not None:
            if reply.react:
                event_type, content = "m.reaction", reaction_content(msg.event_id, reply.react)
            else:
                event_type = "m.room.message"
                content = message_content(
                    reply.text,
                    reply.html,
                    in_reply_to=msg.event_id,
                    thread_root=msg.thread_root,
                    mentions=reply.mentions,
                )
            await self.services.outbox.add(
                session,
                txn_key=msg.event_id,
                seq=0,
                room_id=msg.room_id,
                event_type=event_type,
                content=content,
                source_event_id=msg.event_id,
                private=msg.is_direct,  # what the bot tells one person stays with them
            )
        await self._queue_outbound(session, msg.event_id, outbound)

    async def _queue_outbound(
        self, session: AsyncSession, source_event_id: str, outbound: list[Outbound]
    ) -> None:
        """Queue a handler's further messages, keyed by the event that caused them."""
        for seq, out in enumerate(outbound, start=1):
            own_key = out.txn_key is not None
            await self.services.outbox.add(
                session,
                txn_key=out.txn_key or source_event_id,
                seq=0 if own_key else seq,
                room_id=out.room_id,
                dm_user_id=out.dm_user_id,
                content=message_content(
                    out.text,
                    out.html,
                    notice=out.notice,
                    in_reply_to=out.in_reply_to,
                    mentions=out.mentions,
                ),
                source_event_id=None if own_key else source_event_id,
                private=out.private,
            )

    async def handle_unreadable(self, *, event_id: str, room_id: str, text: str | None) -> bool:
        """Record an event the bot could not read; reply ``text`` to it (if any), once.

        Used for encrypted messages whose key the bot never received. Returns False if
        the event had been handled already.
        """
        async with self.services.db.sessions.begin() as session:
            try:
                await self._claim(session, event_id, room_id)
            except AlreadyHandled:
                self.metrics.messages.labels("duplicate").inc()
                return False
            if text is not None:
                await self.services.outbox.add(
                    session,
                    txn_key=event_id,
                    room_id=room_id,
                    content=message_content(text, in_reply_to=event_id),
                    source_event_id=event_id,
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
                await self._claim(session, event_id, room_id)
            except AlreadyHandled:
                return False
            if reply:
                await self.services.outbox.add(
                    session,
                    txn_key=event_id,
                    room_id=room_id,
                    content=message_content(error_reference_text(ref), in_reply_to=event_id),
                    source_event_id=event_id,
                )
        self.metrics.messages.labels("gave_up").inc()
        self.services.outbox.wake()
        return True

    async def handle_reaction(self, reaction: Reaction) -> bool:
        """Give a reaction to every reaction handler, exactly once."""
        if not self._reaction_handlers:
            return False
        try:
            async with self.services.db.sessions.begin() as session:
                try:
                    await self._claim(session, reaction.event_id, reaction.room_id)
                except AlreadyHandled:
                    return False
                outbound: list[Outbound] = []
                for handler in self._reaction_handlers:
                    outbound.extend(await handler(reaction, session, self.services) or [])
                await self._queue_outbound(session, reaction.event_id, outbound)
        except Exception as exc:
            if _is_database_error(exc):
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
                    await self._claim(session, redaction.event_id, redaction.room_id)
                except AlreadyHandled:
                    return False
                # Copies of what the redacted message caused are emptied too.
                await self.services.outbox.scrub_caused_by(session, redaction.redacts)
                for handler in self._redaction_handlers:
                    await handler(redaction, session, self.services)
        except Exception as exc:
            if _is_database_error(exc):
                raise
            log_unexpected(log, exc, "redaction handler failed for %s", redaction.event_id)
            return False
        self.metrics.messages.labels("redaction").inc()
        return True


def _is_database_error(exc: BaseException) -> bool:
    """A transient database failure must propagate (the event is retried), not be answered.

    Permanent database errors (a constraint, a bad value) become an error reference like
    any other defect: retrying would only repeat them.
    """
    return is_transient(exc)
