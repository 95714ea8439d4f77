"""From synced events to dispatcher jobs: what is answered, and how a failure gives up.

Each answerable event of a room becomes a :class:`~bot.matrix.dispatch.Job` (messages,
reactions, redactions, and encrypted events nobody could decrypt). Messages in the
encrypted triage room are acted on only from cross-signed devices; an event held for its
key comes back through :meth:`EventHandling.deliver_late`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from nio import AsyncClient

from bot.commands.context import IncomingMessage, RoomKind
from bot.commands.router import Router
from bot.matrix import crypto
from bot.matrix.directory import RoomDirectory
from bot.matrix.dispatch import Batch, Dispatcher, Job
from bot.matrix.e2ee import E2EE
from bot.matrix.events import event_time, to_message, to_reaction, to_redaction

log = logging.getLogger(__name__)

UNREADABLE_NOTICE = (
    "I could not decrypt your last message (my device did not receive its key). "
    "Please send it again."
)

UNSIGNED_DEVICE_NOTICE = (
    "I did not act on this. In this encrypted triage room I only take commands sent from"
    " a device its owner has cross-signed (verified), and this message came from one that"
    " is not, or was not encrypted. Verify this session from one of your other sessions"
    " (in Element: Settings → Sessions), then send it again."
)


class EventHandling:
    """Queues a room's answerable events on the dispatcher, in order, each once."""

    def __init__(
        self,
        *,
        client: AsyncClient,
        router: Router,
        e2ee: E2EE,
        directory: RoomDirectory,
        dispatcher: Dispatcher,
        command_prefix: str,
    ):
        self.client = client
        self.router = router
        self.e2ee = e2ee
        self.directory = directory
        self.dispatcher = dispatcher
        self.command_prefix = command_prefix
        self.bot_user_id = directory.bot_user_id

    def handle_events(
        self, room_id: str, events: list[dict[str, Any]], not_before: datetime, batch: Batch
    ) -> None:
        """Queue the answerable events of one room, in order, on the dispatcher."""
        kind = self.directory.room_kind(room_id)
        seen: set[str] = set()
        for event in events:
            event_id = event.get("event_id")
            if not event_id or event_id in seen:
                continue
            seen.add(event_id)
            job = self.job(room_id, kind, event, not_before)
            if job is not None:
                self.dispatcher.submit(batch, room_id, job)

    def job(
        self, room_id: str, kind: RoomKind, event: dict[str, Any], not_before: datetime
    ) -> Job | None:
        """The job for one event, or None when it is not for the bot to answer."""
        event_id = str(event["event_id"])
        router = self.router

        async def give_up_silently(reason: str) -> None:
            await router.give_up(event_id=event_id, room_id=room_id, reason=reason, reply=False)

        async def give_up_with_reference(reason: str) -> None:
            await router.give_up(event_id=event_id, room_id=room_id, reason=reason, reply=True)

        if event.get("type") == crypto.ENCRYPTED:
            if event.get("sender") == self.bot_user_id or event_time(event) < not_before:
                return None
            unreadable = lambda: self.on_unreadable(room_id, kind, event)  # noqa: E731
            return Job(event_id, unreadable, give_up_silently)
        msg = to_message(event, room_id, kind, self.bot_user_id)
        if msg is not None:
            if msg.timestamp < not_before:
                return None

            async def handle() -> None:
                if await self.signed_sender(msg, event):
                    await router.handle(msg)

            return Job(event_id, handle, give_up_with_reference)
        reaction = to_reaction(event, room_id, kind, self.bot_user_id)
        if reaction is not None and reaction.timestamp >= not_before:
            return Job(event_id, lambda: router.handle_reaction(reaction), give_up_silently)
        redaction = to_redaction(event, room_id, kind, self.bot_user_id)
        if redaction is not None and redaction.timestamp >= not_before:
            return Job(event_id, lambda: router.handle_redaction(redaction), give_up_silently)
        return None

    async def signed_sender(self, msg: IncomingMessage, event: dict[str, Any]) -> bool:
        """False (and a refusal, if it was meant for the bot) for a message from a device
        its owner has not cross-signed, in the encrypted triage room."""
        if await self.e2ee.may_command(msg.room_id, event):
            return True
        log.warning("refusing a triage message from an unsigned device of %s", msg.sender)
        if self.for_the_bot(msg):
            await self.router.handle_unreadable(
                event_id=msg.event_id, room_id=msg.room_id, text=UNSIGNED_DEVICE_NOTICE
            )
        return False

    def for_the_bot(self, msg: IncomingMessage) -> bool:
        """Whether a refused message was meant for the bot: a command, a reply, or
        addressed to it by the router's own rule (a mention at the start, not a pill or
        the bot's name further on)."""
        if msg.body.lstrip().startswith(self.command_prefix) or msg.in_reply_to:
            return True
        addressed, _ = self.router.parser.addressed(msg)
        return addressed

    async def on_unreadable(self, room_id: str, kind: RoomKind, event: dict[str, Any]) -> None:
        """An event we hold no key for: ask for the key, and (in a DM) for a resend.

        The event is claimed like any other, so the notice goes out exactly once and a
        key that arrives later does not make the bot answer twice. In group rooms no
        notice is sent: the message may not have been for the bot, and one missing key
        usually hides a whole run of someone's messages.
        """
        if self.e2ee.enabled:
            # Held until its key arrives (then answered) or the grace period ends.
            await self.e2ee.undecryptable.hold(room_id, event, direct=kind is RoomKind.DIRECT)
            return
        event_id = str(event["event_id"])
        log.warning(
            "cannot decrypt %s from %s in %s (no room key); asked for the key",
            event_id,
            event.get("sender"),
            room_id,
        )
        await crypto.request_room_key(self.client, room_id, event)
        text = UNREADABLE_NOTICE if kind is RoomKind.DIRECT else None
        await self.router.handle_unreadable(event_id=event_id, room_id=room_id, text=text)

    async def deliver_late(self, room_id: str, event: dict[str, Any]) -> None:
        """A held event whose key arrived: handled as if it had just come in.

        It joins its room's queue like any event, in a batch of its own with no sync
        token (nothing to save: the sync that brought it was saved long ago).
        """
        batch = self.dispatcher.begin("")
        self.handle_events(room_id, [event], datetime.min.replace(tzinfo=UTC), batch)
        self.dispatcher.seal(batch, complete=False)

    async def give_up_unreadable(self, event_id: str, room_id: str, text: str | None) -> None:
        """A held event whose key never came: answered once (or not) and marked handled."""
        await self.router.handle_unreadable(event_id=event_id, room_id=room_id, text=text)
