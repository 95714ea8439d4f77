"""Web actions call the features' own actions, so chat and web never disagree.

A button on the board stands for one action on a case (``bot/web/cases.py`` picks it):
the same function the chat command calls (``bot.features.tickets.actions``,
``bot.features.incidents.actions``), run as the signed-in member of the security team, in
one transaction with its audit trail. The messages it causes (the reporter's DM, the
triage-room announcement) are queued in the outbox exactly as a chat command's are. The
answer the chat would have given is shown on the page and posted to the triage room. No
chat message is built: the action's cause is an event id of the web's own.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.commands.context import Outbound, Reply
from bot.commands.errors import UsageError, UserError
from bot.commands.replies import queue_outbound
from bot.commands.router import Router
from bot.features.act import Act
from bot.logs import log_unexpected
from bot.messaging import md
from bot.web.site import plain_text

log = logging.getLogger(__name__)

# What a button does, given who acts (the chat verb's function, its arguments bound).
Action = Callable[[Act], Awaitable[Reply | None]]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str


async def run_action(router: Router, user_id: str, name: str, action: Action) -> Outcome:
    """Run ``action`` (the chat verb ``name``) as ``user_id``; its answer is returned."""
    services = router.services
    if not services.is_security_team(user_id):
        return Outcome(False, "That is for the security team.")
    # Keys the outbox transactions of the messages the action causes.
    cause = f"$web-{secrets.token_hex(12)}"
    try:
        async with services.db.sessions.begin() as session:
            act = Act(session, services, user_id, services.clock(), cause)
            reply = await action(act)
            if reply is not None and reply.text and services.rooms.triage:
                act.send(_announcement(user_id, reply, services.rooms.triage))
            # Queued exactly as the router queues a chat command's further messages.
            await queue_outbound(services, session, cause, act.out)
    except UserError as exc:
        router.metrics.commands.labels(name, "refused").inc()
        return Outcome(False, plain_text(exc.message, router.prefix))
    except Exception as exc:
        ref = secrets.token_hex(4)
        log_unexpected(log, exc, "web action %s failed ref=%s", name, ref)
        return Outcome(False, f"Something went wrong on the server (ref: {ref}).")
    router.metrics.commands.labels(name, "ok").inc()
    services.outbox.wake()
    log.info("web action %s by %s", name, user_id)
    if reply is None or reply.react:
        return Outcome(True, "Done.")
    return Outcome(True, plain_text(reply.text, router.prefix))


def given(value: str, missing: str) -> str:
    """``value`` from a form field, or the chat command's own refusal when it is empty."""
    if not value:
        raise UsageError(missing)
    return value


def _announcement(user_id: str, reply: Reply, room_id: str) -> Outbound:
    """What the chat answer would have shown the room, so the team sees it too."""
    who = md.escape(user_id)
    return Outbound(f"{who} on the web board: {reply.text}", room_id=room_id)
