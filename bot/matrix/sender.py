"""The outbox's transport: send events with deterministic transaction ids, open DMs.

In encrypted rooms nio encrypts ``room_send`` itself and shares the room key with every
member's devices first, verified or not (our trust policy: see ``bot.matrix.crypto``).
The transaction id still de-duplicates a resend: the homeserver keys it on the device
and the id, not on the (re-encrypted) content.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aiohttp import ClientError
from nio import (
    AsyncClient,
    JoinedRoomsResponse,
    KeysQueryResponse,
    MessageDirection,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
)
from nio.exceptions import EncryptionError, LocalProtocolError, SendRetryError

from bot.matrix import direct
from bot.matrix.content import without_redundant_mentions
from bot.matrix.render import event_content
from bot.outbox import Failure, SendError, classify_http

# Every event carries its transaction id, so a replica taking over can tell whether a
# message the previous one was sending when it died reached the room (another device's
# transaction id is not de-duplicated by the homeserver).
TXN_KEY = "io.helpdesk.txn_id"
# Rooms up to this many members (joined and invited) have their names checked before an
# empty ``m.mentions`` is left out; bigger ones keep it (the scan grows with the room, and
# a member's name in a reply gets likelier).
MAX_MEMBERS_CHECKED = 200


def error_from(response: Any, what: str) -> SendError:
    """A :class:`SendError` classified by the response's HTTP status and errcode.

    nio keeps the errcode in ``status_code`` and the HTTP response in
    ``transport_response``; 429s reach us (``max_limit_exceeded=0``) with ``retry_after_ms``.
    """
    errcode = getattr(response, "status_code", None) or None
    transport = getattr(response, "transport_response", None)
    status = getattr(transport, "status", None)
    failure = classify_http(status, errcode)
    retry_ms = getattr(response, "retry_after_ms", None)
    reason = f"{what}: {status or ''} {errcode or ''} {getattr(response, 'message', '')}"
    return SendError(
        " ".join(reason.split()),
        failure=failure,
        retry_after=retry_ms / 1000 if failure is Failure.RATE_LIMITED and retry_ms else None,
    )


def _localpart(user_id: str) -> str:
    """``alice`` for ``@alice:example.org``."""
    return user_id.removeprefix("@").partition(":")[0]


class NioTransport:
    """Implements :class:`bot.outbox.Transport` with matrix-nio."""

    def __init__(self, client: AsyncClient, *, encrypt_new_rooms: bool = False):
        self.client = client
        self.encrypt_new_rooms = encrypt_new_rooms
        # DMs this process opened, until a sync shows the invitee in the room: sharing
        # the room key before that would leave them unable to read the first message.
        self._awaiting_invitee: dict[str, str] = {}
        # Rooms private text must never go to (helpdesk, triage), set by the client.
        self.reserved_rooms: Callable[[], set[str]] = set

    async def direct_room_usable(self, room_id: str, user_id: str) -> bool:
        """Whether the stored DM ``room_id`` still holds only the bot and ``user_id``."""
        try:
            return await direct.usable(self.client, room_id, user_id, self.reserved_rooms())
        except (ClientError, OSError, TimeoutError) as exc:
            raise SendError(f"homeserver unreachable ({type(exc).__name__})") from None

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        """Send one event; the homeserver de-duplicates a resend with the same ``txn_id``.

        A Markdown row's text is rendered here (``event_content``), once per send, and
        an empty ``m.mentions`` is left out where no member could be pinged without it.
        """
        content = event_content(content)
        if event_type == "m.room.message" and content.get("m.mentions") == {}:
            content = without_redundant_mentions(content, self._member_names(room_id))
        try:
            if self.client.olm is not None:
                await self._prepare_encrypted(room_id)
            response = await self.client.room_send(
                room_id,
                event_type,
                {**content, TXN_KEY: txn_id},
                tx_id=txn_id,
                ignore_unverified_devices=True,
            )
        except (SendRetryError, EncryptionError) as exc:
            raise SendError(f"cannot encrypt for {room_id} yet: {exc}") from None
        except LocalProtocolError as exc:
            raise SendError(f"cannot send to {room_id}: {exc}", permanent=True) from None
        except (ClientError, OSError, TimeoutError) as exc:
            raise SendError(f"homeserver unreachable ({type(exc).__name__})") from None
        if isinstance(response, RoomSendResponse) and response.event_id:
            return response.event_id
        raise error_from(response, "send")

    def _member_names(self, room_id: str) -> list[str] | None:
        """Every other member's localpart and display name; None if not known.

        None for a room nio has not synced, an encrypted one (clients evaluate the push
        rules there, at no cost to the homeserver) and one over ``MAX_MEMBERS_CHECKED``.
        The sync filter loads every member (no lazy loading), so nio knows them all. The
        bot itself is left out: push rules are never run for an event's own sender, and
        its name ("helpdesk") is in many of its answers.
        """
        room = self.client.rooms.get(room_id)
        if room is None or room.encrypted:
            return None
        members = {**room.users, **room.invited_users}
        if len(members) > MAX_MEMBERS_CHECKED:
            return None
        names = []
        for user_id, user in members.items():
            if user_id != self.client.user_id:
                names.extend((_localpart(user_id), user.display_name or ""))
        return names

    async def find_sent(self, room_id: str, txn_id: str) -> str | None:
        """The id of an event the bot already sent to ``room_id`` with ``txn_id``, if any.

        Looks at the room's latest 50 events from the bot (decrypted where nio can).
        """
        try:
            page = await self.client.room_messages(
                room_id,
                direction=MessageDirection.back,
                limit=50,
                message_filter={"senders": [self.client.user_id]},
            )
        except (ClientError, OSError, TimeoutError) as exc:
            raise SendError(f"homeserver unreachable ({type(exc).__name__})") from None
        if not isinstance(page, RoomMessagesResponse):
            raise error_from(page, "history")
        for event in page.chunk:
            # A decrypted event's source is its decrypted payload: the content is there too.
            content = (getattr(event, "source", None) or {}).get("content") or {}
            if content.get(TXN_KEY) == txn_id:
                return str(event.event_id)
        return None

    async def _prepare_encrypted(self, room_id: str) -> None:
        """What nio's ``room_send`` needs before it can encrypt for ``room_id``.

        Raises:
            SendError: transient while the room is joined but not yet seen in a sync
                (a DM the outbox just created); permanent if the bot is not in it.
        """
        if room_id not in self.client.rooms:
            # nio learns a room (and whether it is encrypted) from a sync only.
            joined = await self.client.joined_rooms()
            if isinstance(joined, JoinedRoomsResponse) and room_id not in joined.rooms:
                raise SendError(f"the bot is not in {room_id}", permanent=True)
            raise SendError(f"{room_id} not synced yet")
        room = self.client.rooms[room_id]
        invitee = self._awaiting_invitee.get(room_id)
        if invitee is not None:
            if invitee not in room.users:
                raise SendError(f"{room_id} synced before its invite; waiting for it")
            del self._awaiting_invitee[room_id]
        if room.encrypted and self.client.olm is not None:
            # Every member, invited ones included (a DM the bot just opened), must have
            # known devices before the room key is shared, or they cannot read the message.
            # nio may count a user as tracked before any of their devices is known.
            self.client.olm.update_tracked_users(room)
            unknown = {
                user
                for user in room.users
                if user != self.client.user_id and not self.client.device_store[user]
            }
            self.client.olm.users_for_key_query.update(unknown)
        if room.encrypted and self.client.should_query_keys:
            # A member's new device must get the room key too; nio's room_send only
            # queries keys the first time it sends to a room.
            try:
                response = await self.client.keys_query()
            except LocalProtocolError:
                # The sync loop's query is in flight: sending now would share the room
                # key before those devices are known, and they could never read it.
                raise SendError(f"device keys for {room_id} are being fetched") from None
            if not isinstance(response, KeysQueryResponse):
                raise SendError(f"keys query failed: {getattr(response, 'message', response)}")

    async def open_direct_room(self, user_id: str) -> str:
        """A private room with ``user_id``: an existing one, else a new invited DM.

        Idempotent: one ``createRoom`` per attempt, never retried by nio (a retry after
        a lost answer opened a second room); the next attempt finds the first room.
        """
        try:
            existing = await direct.find_existing(self.client, user_id, self.reserved_rooms())
        except (ClientError, OSError, TimeoutError) as exc:
            raise SendError(f"homeserver unreachable ({type(exc).__name__})") from None
        if existing is not None:
            return existing
        return await self._create_direct_room(user_id)

    async def _create_direct_room(self, user_id: str) -> str:
        # As Element does: a DM is encrypted from its first event.
        initial_state = (
            [
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            ]
            if self.encrypt_new_rooms
            else []
        )
        config = self.client.config
        try:
            # nio would repeat the request after a timeout, opening a second room.
            self.client.config = dataclasses.replace(config, max_timeouts=0)
            response = await self.client.room_create(
                is_direct=True,
                invite=[user_id],
                preset=RoomPreset.trusted_private_chat,
                initial_state=initial_state,
            )
        except (ClientError, OSError, TimeoutError) as exc:
            raise SendError(f"homeserver unreachable ({type(exc).__name__})") from None
        finally:
            self.client.config = config
        if isinstance(response, RoomCreateResponse):
            if self.encrypt_new_rooms:
                self._awaiting_invitee[response.room_id] = user_id
            return response.room_id
        raise error_from(response, "cannot open a DM")
