"""Dispatch: claim the message, run the handler, the one error boundary, queue the replies.

Every message that reaches the bot goes through :meth:`Dispatcher.handle`, which claims the
event in the database, runs the handler in that same transaction, and commits the
handler's changes together with its replies (queued in the outbox). A crash at any
point therefore either leaves nothing (the event is processed again) or leaves the
replies committed (they are sent on restart, de-duplicated by transaction id).
"""

from __future__ import annotations

import logging
import secrets
import time

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.arguments import parse_args, usage_line
from bot.commands.claims import (
    AlreadyHandled,
    check_unclaimed,
    claim,
    error_reference_text,
    is_database_error,
)
from bot.commands.context import (
    CommandContext,
    IncomingMessage,
    Reply,
)
from bot.commands.errors import RateLimited, UsageError, UserError
from bot.commands.parsing import Parser, Route
from bot.commands.permissions import check_permission, team_places_text
from bot.commands.registry import TEAM_PLACES, ForOthers, Registry
from bot.commands.replies import queue_reply
from bot.logs import log_unexpected
from bot.messaging import md
from bot.metrics import Metrics
from bot.services import Services
from bot.storage.sqlite_driver import has_written

log = logging.getLogger(__name__)


class Dispatcher:
    """Runs what the registry holds for each event, exactly once, inside one transaction."""

    def __init__(self, services: Services, registry: Registry, parser: Parser, *, metrics: Metrics):
        self.services = services
        self.registry = registry
        self.parser = parser
        self.metrics = metrics
        self.prefix = services.settings.bot.command_prefix

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
            route = self.parser.route(msg)
        except Exception as exc:  # a broken matcher must not stall the sync loop forever
            log_unexpected(log, exc, f"routing event {msg.event_id} failed")
            route = None
        try:
            return await self._handle_in_one_transaction(msg, route)
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
            if is_database_error(exc):
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
            await queue_reply(self.services, session, msg, reply, [])
        return outcome

    async def _handle_in_one_transaction(self, msg: IncomingMessage, route: Route | None) -> str:
        """The handler, the claim and the reply, committed together; returns the outcome."""
        async with self.services.db.sessions.begin() as session:
            await check_unclaimed(session, msg.event_id)
            ctx = self._context(msg, route, session)
            if route is not None and not ctx.is_security_team:
                self.services.rate_limit("commands", msg.sender)
            intercepted = await self._intercept(ctx, route)
            if intercepted is not None:
                outcome, reply = intercepted
            else:
                reply = await self._run(ctx, route)
                outcome = route.kind if route else "ignored"
            await session.flush()
            only_a_reply = not ctx.outbound and not await has_written(session)
            # The claim goes last: until here the handler held no write lock (SQLite).
            await self._claim(session, msg.event_id, msg.room_id)
            await queue_reply(self.services, session, msg, reply, ctx.outbound)
            if only_a_reply:  # sent while the transaction commits (outbox/early.py)
                await self.services.outbox.start_early(session)
        return outcome

    async def _claim(self, session: AsyncSession, event_id: str, room_id: str) -> None:
        await claim(session, event_id, room_id, self.services.clock())

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
            subcommand=route.sub.name if route and route.sub else "",
        )

    async def _intercept(
        self, ctx: CommandContext, route: Route | None
    ) -> tuple[str, Reply] | None:
        """The outcome and reply of the first interceptor that takes the message, if any."""
        explicit = (
            route is not None
            and route.kind == "command"
            and ctx.message.body.lstrip().startswith(self.prefix)
        )
        # An explicit !command always wins over a conversation in progress; an overlong
        # message reaches no interceptor (intake answers, DM comments, kept thread
        # messages are bounded like commands).
        overlong = len(ctx.message.body) > self.services.settings.bot.max_message_length
        for interceptor in [] if explicit or overlong else self.registry.interceptors:
            reply = await interceptor.handler(ctx)
            if reply is not None:
                return interceptor.outcome, reply
        return None

    async def _run(self, ctx: CommandContext, route: Route | None) -> Reply | None:
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
                return Reply(f"Hello! Send `{self.prefix}help` to see what I can do.")
            return Reply(
                f"I don't know {md.escape(repr(route.name))}. "
                f"Send `{self.prefix}help` to see what I can do."
            )
        if route.command is not None:
            reply = await invoke(ctx, route, self.prefix)
            self.metrics.commands.labels(route.command.name, "ok").inc()
            return reply
        assert route.handler is not None
        return await route.handler(ctx)

    def team_places_text(self) -> str:
        """The one refusal for a team command outside the triage room and DMs."""
        return team_places_text(self.prefix)

    def _user_error_text(self, exc: UserError, route: Route | None) -> str:
        if not isinstance(exc, UsageError) or not route or not route.command:
            return exc.message
        if route.sub is None and not route.command.usage and not route.command.args:
            return exc.message
        usage = f"{self.prefix}{usage_line(route.command, route.sub)}"
        return f"{exc.message}\nUsage: {md.escape(usage)}"


async def invoke(ctx: CommandContext, route: Route, prefix: str) -> Reply | None:
    """Run a command route: its permission, its declared arguments (``ctx.params``), its
    handler. Chat messages and the web board's actions both come through here."""
    command = route.command
    assert command is not None and route.handler is not None
    if command.others and route.sub is None and not ctx.is_security_team:
        reply = await _for_others(ctx, command.others, route.args, prefix)
        if reply is not None:
            return reply
    check_permission(ctx, command, route.sub, prefix)
    declared, extra = (
        (route.sub.args, route.sub.extra) if route.sub else (command.args, command.extra)
    )
    ctx.params = parse_args(declared, route.args, prefix, extra) if declared else {}
    return await route.handler(ctx)


async def _for_others(
    ctx: CommandContext, others: ForOthers, args: str, prefix: str
) -> Reply | None:
    """A team-only command's answer to someone outside the team (None: refuse them)."""
    if ctx.message.room_kind not in TEAM_PLACES:
        return None  # the same refusal for everyone outside the team's places
    try:
        ctx.params = parse_args(others.args, args, prefix)
    except UsageError:
        return None
    return await others.handler(ctx)
