"""Decrypted content is the sender's claim, never server state.

nio applies a decrypted ``m.room.member`` to its member list (so one encrypted message
could make an outsider a member of the triage room, hence "security team"), and it
takes ``m.relates_to`` from inside the ciphertext over the clear envelope. The guard
wraps nio's megolm decryption so that every path (sync, ``/messages``, retries) gets:

* decrypted events of a state type, or carrying a ``state_key``, replaced by an inert
  event of type :data:`IGNORED` (nothing applies or answers it);
* ``m.relates_to`` taken from the clear envelope only (dropped when the envelope has none).
"""

from __future__ import annotations

import logging
from typing import Any

from nio import AsyncClient, Event, MegolmEvent, UnknownEvent

log = logging.getLogger(__name__)

IGNORED = "org.helpdesk.ignored_decrypted_state"
STATE_TYPES = frozenset(
    {
        "m.room.create",
        "m.room.member",
        "m.room.power_levels",
        "m.room.join_rules",
        "m.room.history_visibility",
        "m.room.guest_access",
        "m.room.encryption",
        "m.room.name",
        "m.room.topic",
        "m.room.avatar",
        "m.room.canonical_alias",
        "m.room.aliases",
        "m.room.server_acl",
        "m.room.tombstone",
        "m.room.pinned_events",
        "m.room.third_party_invite",
        "m.space.child",
        "m.space.parent",
    }
)


def sanitize(decrypted: Any, envelope: MegolmEvent) -> Any:
    """The decrypted event made safe to use; see the module docstring."""
    source = getattr(decrypted, "source", None)
    if not isinstance(source, dict):
        return decrypted  # a BadEvent or similar: nothing is applied from it
    kind = source.get("type")
    if kind in STATE_TYPES or "state_key" in source:
        log.warning(
            "ignoring %s from %s: a state event inside ciphertext (event %s)",
            kind,
            envelope.sender,
            envelope.event_id,
        )
        inert = {
            "type": IGNORED,
            "event_id": envelope.event_id,
            "sender": envelope.sender,
            "origin_server_ts": envelope.server_timestamp,
            "content": {},
        }
        event = UnknownEvent(inert, IGNORED)
        event.decrypted = True
        event.room_id = getattr(decrypted, "room_id", None)
        return event
    content = source.get("content")
    if isinstance(content, dict):
        clear = (envelope.source.get("content") or {}).get("m.relates_to")
        if isinstance(clear, dict):
            content["m.relates_to"] = clear
        elif "m.relates_to" in content:
            log.info("dropping a relation found only inside ciphertext (%s)", envelope.event_id)
            del content["m.relates_to"]
    return decrypted


MAX_ORIGINS = 10_000


def install(client: AsyncClient, origins: dict[str, str] | None = None) -> None:
    """Wrap the client's megolm decryption with :func:`sanitize` (idempotent).

    Args:
        client: the logged-in client (its Olm machine loaded).
        origins: filled with event id -> the sender's Curve25519 key (the device the
            room key came from), for checking who sent a decrypted event.
    """
    olm = client.olm
    if olm is None or getattr(olm, "_helpdesk_guarded", False):
        return
    original = olm.decrypt_megolm_event

    def guarded(event: MegolmEvent, room_id: str | None = None) -> Event:
        decrypted = sanitize(original(event, room_id), event)
        if origins is not None and event.event_id and event.sender_key:
            origins[event.event_id] = event.sender_key
            while len(origins) > MAX_ORIGINS:
                del origins[next(iter(origins))]
        return decrypted

    olm.decrypt_megolm_event = guarded  # type: ignore[method-assign]
    olm._helpdesk_guarded = True  # type: ignore[attr-defined]
