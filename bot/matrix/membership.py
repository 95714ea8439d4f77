"""Who is in which room, and which rooms are real DMs: only from server-sent state.

nio's own member lists also take ``m.room.member`` events found inside decrypted
payloads (which are the sender's claim, not the server's), and nio never processes the
``leave`` section of a sync. The bot's security decisions therefore use this tracker
instead: it is fed the clear state and timeline events of each sync (never a decrypted
event), forgets a room the moment the server says the bot left it, and is re-read from
``/joined_members`` after a gap or a rejoin.

A room is a DM (see :meth:`RoomStates.dm_partner`) only when its creator invited the
bot with ``is_direct`` (recorded at the invite) or the bot created it itself, exactly the
bot and that one person are joined, nobody else is invited, and the history is not
world-readable. Anything else is a group room.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RoomState:
    """The security-relevant state of one room, as the server sent it."""

    members: dict[str, str] = field(default_factory=dict)  # user id -> membership
    creator: str | None = None
    join_rule: str | None = None
    history_visibility: str | None = None
    encrypted: bool = False

    def joined(self) -> set[str]:
        return {u for u, m in self.members.items() if m == "join"}

    def invited(self) -> set[str]:
        return {u for u, m in self.members.items() if m == "invite"}


def _content(event: dict[str, Any]) -> dict[str, Any]:
    content = event.get("content")
    return content if isinstance(content, dict) else {}


class RoomStates:
    """Per-room state for the rooms the bot is in (rooms it left are forgotten)."""

    def __init__(self, bot_user_id: str):
        self.bot_user_id = bot_user_id
        self.rooms: dict[str, RoomState] = {}
        # Rooms whose creator invited the bot with is_direct: room id -> that creator's
        # invite sender (the DM partner), as recorded when the invite arrived.
        self.direct_invites: dict[str, str] = {}

    def apply(self, room_id: str, event: dict[str, Any]) -> None:
        """Apply one server-sent state event (clear; never a decrypted payload)."""
        state_key = event.get("state_key")
        if not isinstance(state_key, str):
            return
        kind = event.get("type")
        content = _content(event)
        room = self.rooms.setdefault(room_id, RoomState())
        if kind == "m.room.member":
            membership = content.get("membership")
            if isinstance(membership, str):
                room.members[state_key] = membership
        elif kind == "m.room.create" and state_key == "":
            creator = content.get("creator") or event.get("sender")
            room.creator = creator if isinstance(creator, str) else None
        elif kind == "m.room.join_rules" and state_key == "":
            rule = content.get("join_rule")
            room.join_rule = rule if isinstance(rule, str) else None
        elif kind == "m.room.history_visibility" and state_key == "":
            visibility = content.get("history_visibility")
            room.history_visibility = visibility if isinstance(visibility, str) else None
        elif kind == "m.room.encryption" and state_key == "":
            room.encrypted = True

    def apply_sync(self, room_id: str, events: Iterable[Any]) -> None:
        """Apply a sync's state and timeline events (nio objects with ``source``).

        Events nio decrypted are skipped: what is inside an encrypted payload is the
        sender's claim (a forged ``m.room.member`` must never make anyone "team").
        """
        for event in events:
            if not getattr(event, "decrypted", False):
                source = getattr(event, "source", None)
                if isinstance(source, dict):
                    self.apply(room_id, source)

    def replace_joined(self, room_id: str, joined: set[str]) -> None:
        """Take the joined members from ``/joined_members`` (after a gap or a rejoin)."""
        room = self.rooms.setdefault(room_id, RoomState())
        for user, membership in list(room.members.items()):
            if membership == "join" and user not in joined:
                room.members[user] = "leave"
        for user in joined:
            room.members[user] = "join"

    def forget(self, room_id: str) -> None:
        """The bot left (or was removed from) ``room_id``: nobody is in it for us."""
        self.rooms.pop(room_id, None)

    def joined(self, room_id: str) -> set[str]:
        """Joined members of ``room_id`` (empty if the bot is not in it)."""
        room = self.rooms.get(room_id)
        if room is None or self.bot_user_id not in room.joined():
            return set()
        return room.joined()

    def dm_partner(self, room_id: str) -> str | None:
        """The one person this room is a real DM with, else None."""
        room = self.rooms.get(room_id)
        if room is None or room.history_visibility == "world_readable":
            return None
        if room.join_rule not in (None, "invite"):
            return None  # anyone could walk in (public or knock)
        joined = room.joined()
        if self.bot_user_id not in joined or len(joined) != 2 or room.invited():
            return None
        (partner,) = joined - {self.bot_user_id}
        if room.creator == self.bot_user_id:
            return partner
        if room.creator == partner and self.direct_invites.get(room_id) == partner:
            return partner
        return None
