"""End-to-end encryption chores for the sync loop: key exchange and decryption.

nio decrypts what it can while it takes in a sync (and a ``/messages`` page), but our
loop does not use ``sync_forever``, so the key traffic that ``sync_forever`` does after
each sync is done here. Trust policy: the bot shares its replies' keys with every
device in a room, verified or not (``ignore_unverified_devices`` in the sender): a
helpdesk must answer people who never verified it, and it sends nothing secret that the
room's members could not read anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientConnectionError
from nio import (
    AsyncClient,
    ErrorResponse,
    Event,
    MegolmEvent,
)
from nio.exceptions import EncryptionError, LocalProtocolError

log = logging.getLogger(__name__)

ENCRYPTED = "m.room.encrypted"


async def exchange_keys(client: AsyncClient) -> None:
    """Upload, query and claim keys and send queued to-device messages, as nio needs.

    Failures are logged, not raised: nio keeps its "should" flags set, so the next sync
    retries them.
    """
    if client.olm is None:
        return
    try:
        if client.outgoing_to_device_messages:
            await _checked("to-device send", client.send_to_device_messages())
        if client.should_upload_keys:
            await _checked("keys upload", client.keys_upload())
        if client.should_query_keys:
            await _checked("keys query", client.keys_query())
        if client.should_claim_keys:
            await _checked("keys claim", client.keys_claim(client.get_users_for_key_claiming()))
    except (ClientConnectionError, TimeoutError, OSError) as exc:
        log.warning("key exchange interrupted (%s); retried after the next sync", exc)


async def publish_keys(client: AsyncClient) -> None:
    """Upload our device keys if nio says so (a fresh device, or one-time keys running low).

    Called before a sync's invites are accepted, so nobody sees the bot join a room
    before its keys can be found.
    """
    if client.olm is None or not client.should_upload_keys:
        return
    try:
        await _checked("keys upload", client.keys_upload())
    except (ClientConnectionError, TimeoutError, OSError) as exc:
        log.warning("keys upload interrupted (%s); retried after the next sync", exc)


async def _checked(what: str, call: Any) -> None:
    responses = await call
    for response in responses if isinstance(responses, list) else [responses]:
        if isinstance(response, ErrorResponse):
            log.warning("%s failed: %s", what, response.message)


def readable(client: AsyncClient, room_id: str, event: Event) -> dict[str, Any]:
    """The event as a raw dict, decrypted when we hold its room key.

    nio replaces what it could decrypt during the sync with parsed events whose
    ``source`` is the *decrypted* event (type ``m.room.message`` and its plaintext
    content). What is still a :class:`MegolmEvent` (a replayed sync nio skipped, or a
    key that arrived after the event) gets one more try here; if that fails the
    encrypted source (type ``m.room.encrypted``) is returned for the caller to answer.
    """
    if isinstance(event, MegolmEvent) and client.olm is not None:
        if not event.room_id:
            event.room_id = room_id
        try:
            decrypted = client.decrypt_event(event)
        except (EncryptionError, LocalProtocolError) as exc:
            log.debug("cannot decrypt %s yet: %s", event.event_id, exc)
        else:
            if isinstance(decrypted, Event) and not isinstance(decrypted, MegolmEvent):
                return decrypted.source
    return event.source


async def request_room_key(client: AsyncClient, room_id: str, source: dict[str, Any]) -> None:
    """Ask the sender's devices for the key of an event we could not decrypt."""
    if client.olm is None:
        return
    # parse_event validates first (senders control content) and yields a BadEvent
    # rather than raising on a malformed one.
    event = Event.parse_event({**source, "room_id": room_id})
    if not isinstance(event, MegolmEvent):
        return  # not a megolm event we understand; nothing to ask for
    try:
        response = await client.request_room_key(event)
    except LocalProtocolError:
        return  # a request for this session is already out
    except (ClientConnectionError, TimeoutError, OSError) as exc:
        log.warning("could not request the room key for %s: %s", source.get("event_id"), exc)
        return
    if isinstance(response, ErrorResponse):
        log.warning("room key request failed: %s", response.message)
