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

from bot.commands.context import CommandContext, IncomingMessage, Outbound, RoomKind
from bot.commands.errors import UserError
from bot.commands.router import Permission, Router
from bot.logs import log_unexpected
from bot.matrix.content import message_content

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str


async def run_command(router: Router, user_id: str, name: str, args: str) -> Outcome:
    """Run ``!name args`` as ``user_id`` from the web; the handler's answer is returned."""
    services = router.services
    command = router.lookup(name)
    if command is None:
        raise ValueError(f"unknown command {name!r}")
    # A synthetic event id: keys the outbox transactions of the messages it causes.
    event_id = f"$web-{secrets.token_hex(12)}"
    message = IncomingMessage(
        event_id=event_id,
        room_id=services.rooms.triage or "!web:invalid",
        sender=user_id,
        body=f"{router.prefix}{name} {args}".strip(),
        timestamp=services.clock(),
        room_kind=RoomKind.TRIAGE,
    )
    team = services.is_security_team(user_id)
    if command.permission is Permission.SECURITY_TEAM and not team:
        return Outcome(False, "That is for the security team.")
    try:
        async with services.db.sessions.begin() as session:
            ctx = CommandContext(
                message=message,
                command=name,
                args=args,
                session=session,
                services=services,
                is_security_team=team,
            )
            reply = await command.handler(ctx)
            if reply is not None and reply.text and services.rooms.triage:
                # What the chat answer would have shown the room, so the team sees it too.
                ctx.send(
                    Outbound(f"{user_id} on the web board: {reply.text}", room_id=message.room_id)
                )
            for seq, out in enumerate(ctx.outbound, start=1):
                await services.outbox.add(
                    session,
                    txn_key=event_id,
                    seq=seq,
                    room_id=out.room_id,
                    dm_user_id=out.dm_user_id,
                    content=message_content(
                        out.text,
                        out.html,
                        notice=out.notice,
                        in_reply_to=out.in_reply_to,
                        mentions=out.mentions,
                    ),
                    source_event_id=event_id,
                )
    except UserError as exc:
        router.metrics.commands.labels(name, "refused").inc()
        return Outcome(False, exc.message)
    except Exception as exc:
        ref = secrets.token_hex(4)
        log_unexpected(log, exc, "web action %s failed ref=%s", name, ref)
        return Outcome(False, f"Something went wrong on the server (ref: {ref}).")
    router.metrics.commands.labels(name, "ok").inc()
    services.outbox.wake()
    log.info("web action %s by %s", name, user_id)
    if reply is None or reply.react:
        return Outcome(True, "Done.")
    return Outcome(True, reply.text)
