"""Web actions run the chat commands themselves, so chat and web never disagree.

A button on the board becomes the same command a team member would type in the triage
room (``!close T-3 answered ...``), run by the same handler with the same permission
check, in one transaction with its audit trail, and its messages (the reporter's DM, the
triage-room announcement) queued in the outbox exactly as the router queues them. The
answer the chat would have given is shown on the page and posted to the triage room.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from bot.commands.context import CommandContext, IncomingMessage, Outbound, Reply, RoomKind
from bot.commands.dispatch import invoke
from bot.commands.errors import UserError
from bot.commands.replies import queue_outbound
from bot.commands.router import Permission, Router
from bot.logs import log_unexpected
from bot.messaging import md
from bot.services import Services
from bot.web.site import plain_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str


async def run_command(router: Router, user_id: str, name: str, args: str) -> Outcome:
    """Run ``!name args`` as ``user_id`` from the web; the handler's answer is returned."""
    services = router.services
    message = _message(services, router.prefix, user_id, name, args)
    # Parsed as the chat message would be: the same sub-command and declared arguments.
    route = router.route(message)
    if route is None or route.command is None or route.handler is None:
        raise ValueError(f"unknown command {name!r}")
    team = services.is_security_team(user_id)
    if route.command.permission is Permission.SECURITY_TEAM and not team:
        return Outcome(False, "That is for the security team.")
    try:
        async with services.db.sessions.begin() as session:
            ctx = CommandContext(
                message=message,
                command=route.name,
                args=route.args,
                session=session,
                services=services,
                is_security_team=team,
                subcommand=route.sub.name if route.sub else "",
            )
            reply = await invoke(ctx, route, router.prefix)
            if reply is not None and reply.text and services.rooms.triage:
                ctx.send(_announcement(user_id, reply, message.room_id))
            # Queued exactly as the router queues a chat command's further messages.
            await queue_outbound(services, session, message.event_id, ctx.outbound)
    except UserError as exc:
        router.metrics.commands.labels(name, "refused").inc()
        return Outcome(False, plain_text(exc.message, exc.markdown, router.prefix))
    except Exception as exc:
        ref = secrets.token_hex(4)
        log_unexpected(log, exc, "web action %s failed ref=%s", name, ref)
        return Outcome(False, f"Something went wrong on the server (ref: {ref}).")
    router.metrics.commands.labels(name, "ok").inc()
    services.outbox.wake()
    log.info("web action %s by %s", name, user_id)
    if reply is None or reply.react:
        return Outcome(True, "Done.")
    return Outcome(True, plain_text(reply.text, reply.markdown, router.prefix))


def _message(
    services: Services, prefix: str, user_id: str, name: str, args: str
) -> IncomingMessage:
    """The command as if typed in the triage room, with a synthetic event id.

    The event id keys the outbox transactions of the messages it causes.
    """
    return IncomingMessage(
        event_id=f"$web-{secrets.token_hex(12)}",
        room_id=services.rooms.triage or "!web:invalid",
        sender=user_id,
        body=f"{prefix}{name} {args}".strip(),
        timestamp=services.clock(),
        room_kind=RoomKind.TRIAGE,
    )


def _announcement(user_id: str, reply: Reply, room_id: str) -> Outbound:
    """What the chat answer would have shown the room, so the team sees it too."""
    who = md.escape(user_id) if reply.markdown else user_id
    return Outbound(
        f"{who} on the web board: {reply.text}", room_id=room_id, markdown=reply.markdown
    )
