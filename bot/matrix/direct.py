"""Where private text may go: a room with the bot and that one person, nobody else.

A remembered DM is checked again before each private message (the person may have left,
or the room may have grown into a group), and a new DM is opened only when no such room
exists. Opening is idempotent per person: a ``createRoom`` whose answer was lost (a
timeout, a proxy 502) is not repeated blindly: the next attempt first looks for the
room it may have created, using the homeserver's own list of the bot's rooms.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from nio import AsyncClient, JoinedRoomsResponse, RoomGetStateResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Membership:
    """Who is in a room, and how it may be joined."""

    joined: frozenset[str]
    invited: frozenset[str]
    join_rule: str
    named: bool

    def is_private_with(self, bot_user_id: str, user_id: str) -> bool:
        """The bot joined, ``user_id`` joined or invited, nobody else; not public."""
        if bot_user_id not in self.joined or self.join_rule == "public" or self.named:
            return False
        if user_id not in self.joined and user_id not in self.invited:
            return False
        return (self.joined | self.invited) <= {bot_user_id, user_id}


def membership_from_nio(client: AsyncClient, room_id: str) -> Membership | None:
    """The room as of the last sync, or None if nio does not know it."""
    room = client.rooms.get(room_id)
    if room is None:
        return None
    invited = frozenset(room.invited_users)
    return Membership(
        joined=frozenset(room.users) - invited,
        invited=invited,
        join_rule=room.join_rule,
        named=bool(room.name or room.canonical_alias),
    )


def membership_from_state(events: list[dict[str, Any]]) -> Membership:
    """The room from its full state (``GET /rooms/{id}/state``)."""
    joined: set[str] = set()
    invited: set[str] = set()
    join_rule = "invite"
    named = False
    for event in events:
        kind, content = event.get("type"), event.get("content") or {}
        if kind == "m.room.member":
            state = content.get("membership")
            if state == "join":
                joined.add(str(event.get("state_key")))
            elif state == "invite":
                invited.add(str(event.get("state_key")))
        elif kind == "m.room.join_rules":
            join_rule = str(content.get("join_rule", "invite"))
        elif kind in ("m.room.name", "m.room.canonical_alias"):
            named = named or bool(content.get("name") or content.get("alias"))
    return Membership(frozenset(joined), frozenset(invited), join_rule, named)


async def current_membership(client: AsyncClient, room_id: str) -> Membership | None:
    """The room as nio saw it in the last sync, else as the homeserver says now.

    None when the bot cannot read the room's state (it is not in it any more).
    """
    known = membership_from_nio(client, room_id)
    if known is not None:
        return known
    response = await client.room_get_state(room_id)
    if not isinstance(response, RoomGetStateResponse):
        return None
    return membership_from_state(response.events)


async def usable(client: AsyncClient, room_id: str, user_id: str, reserved: set[str]) -> bool:
    """Whether private text for ``user_id`` may go into ``room_id`` right now."""
    if room_id in reserved:
        return False
    membership = await current_membership(client, room_id)
    ok = membership is not None and membership.is_private_with(client.user_id, user_id)
    if not ok:
        log.info("stored DM %s no longer reaches %s privately; opening another", room_id, user_id)
    return ok


async def find_existing(client: AsyncClient, user_id: str, reserved: set[str]) -> str | None:
    """A room the bot already shares privately with ``user_id`` (e.g. one whose
    ``createRoom`` answer was lost), or None.

    Rooms from the last sync are checked first; rooms the homeserver lists but nio has
    not seen yet (created since the last sync) are read from the homeserver.
    """
    for room_id in list(client.rooms):
        if room_id in reserved:
            continue
        membership = membership_from_nio(client, room_id)
        if membership is not None and membership.is_private_with(client.user_id, user_id):
            return room_id
    joined = await client.joined_rooms()
    if not isinstance(joined, JoinedRoomsResponse):
        return None
    for room_id in joined.rooms:
        if room_id in client.rooms or room_id in reserved:
            continue
        response = await client.room_get_state(room_id)
        if isinstance(response, RoomGetStateResponse) and membership_from_state(
            response.events
        ).is_private_with(client.user_id, user_id):
            return room_id
    return None
