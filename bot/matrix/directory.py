"""The room directory: who is in which room, and which rooms are helpdesk and triage.

It owns ``services.rooms`` (the resolved room ids the features read): nothing else
writes into it. Membership comes from server-sent state only (see ``membership.py``);
the triage room is pinned at the first start (see :meth:`RoomDirectory.pin_triage`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

from aiohttp import ClientConnectionError
from nio import AsyncClient, JoinedMembersResponse, RoomResolveAliasResponse

from bot.backoff import Backoff
from bot.commands.context import RoomKind
from bot.matrix import rooms as room_store
from bot.matrix.membership import RoomStates
from bot.messaging import Message, Messenger, ToRoom, md
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)

RoomKey = Literal["helpdesk", "triage"]
ROOM_KEYS: tuple[RoomKey, RoomKey] = ("helpdesk", "triage")


class UnsafeTriageRoom(Exception):
    """The triage room is not private and ``rooms.require_private_triage`` is set."""


class RoomDirectory:
    """Room membership and the configured rooms' ids, as the homeserver says them.

    Args:
        settings: the bot's settings (``rooms`` and ``matrix.user_id`` are read).
        client: the nio client (alias lookups, ``/joined_members``).
        services: where the resolved ids are published (``services.rooms``).
        stopping: set when the bot stops (ends the retry of an alias lookup).
    """

    def __init__(
        self, settings: Settings, client: AsyncClient, services: Services, stopping: asyncio.Event
    ):
        self.settings = settings
        self.client = client
        self.services = services
        self.ids = services.rooms  # written here only
        self.bot_user_id = settings.matrix.user_id
        self.states = RoomStates(self.bot_user_id)
        self._stopping = stopping
        self._triage_checked = False
        self._alias_moved: str | None = None  # where rooms.triage points now, if elsewhere

    # -- reading ------------------------------------------------------------------

    def joined_members(self, room_id: str) -> set[str]:
        """Members joined to ``room_id`` as the server last said (empty once the bot left)."""
        return self.states.joined(room_id)

    def triage_members(self) -> set[str]:
        """The members of the triage room (empty before it is known)."""
        triage = self.ids.triage
        return self.joined_members(triage) if triage else set()

    def need_to_know(self, room_id: str) -> set[str] | None:
        """The triage room's members (its keys go to cross-signed devices only)."""
        return self.triage_members() if room_id == self.ids.triage else None

    def configured_rooms(self) -> set[str]:
        """The ids of the helpdesk and triage rooms known so far."""
        return {r for r in (self.ids.helpdesk, self.ids.triage) if r}

    def room_kind(self, room_id: str) -> RoomKind:
        """Helpdesk, triage, a real DM (see membership.py), or some other room."""
        if room_id == self.ids.helpdesk:
            return RoomKind.HELPDESK
        if room_id == self.ids.triage:
            return RoomKind.TRIAGE
        if self.states.dm_partner(room_id) is not None:
            return RoomKind.DIRECT
        return RoomKind.OTHER

    async def resolve_alias(self, alias: str) -> str | None:
        """The room id ``alias`` points to now (None if it does not resolve).

        Raises:
            OSError, TimeoutError: the homeserver could not answer (try again later).
        """
        response = await self.client.room_resolve_alias(alias)
        if isinstance(response, RoomResolveAliasResponse):
            return response.room_id
        code = getattr(response, "status_code", None)
        if code == "M_NOT_FOUND":
            return None
        raise ConnectionError(f"alias lookup failed: {code or type(response).__name__}")

    # -- the configured rooms --------------------------------------------------------

    def set_room(self, key: RoomKey, room_id: str) -> None:
        """Publish the id of the helpdesk or triage room (from a lookup or a join)."""
        setattr(self.ids, key, room_id)

    async def resolve_rooms(self) -> None:
        """Learn the ids of the configured rooms before the first sync classifies events."""
        backoff = Backoff()
        for key in ROOM_KEYS:
            ref = getattr(self.settings.rooms, key)
            while ref.startswith("#") and not self._stopping.is_set():
                try:
                    response = await self.client.room_resolve_alias(ref)
                except (ClientConnectionError, TimeoutError, OSError) as exc:
                    log.warning("cannot resolve rooms.%s (%s); retrying", key, type(exc).__name__)
                    await backoff.sleep(self._stopping)
                    continue
                if isinstance(response, RoomResolveAliasResponse):
                    ref = response.room_id
                else:
                    # Not fatal: the alias may be created later; joining retries it.
                    log.error(
                        "rooms.%s %s does not resolve: %s",
                        key,
                        ref,
                        getattr(response, "message", response),
                    )
                break
            if key == "triage":
                ref = await self.pin_triage(ref)
            if ref.startswith("!"):
                self.set_room(key, ref)

    async def pin_triage(self, resolved: str) -> str:
        """The triage room is the one pinned at the first start, whatever the alias says.

        Whoever can repoint the alias must not decide who the security team is: a moved
        alias is reported loudly (log and triage room) and ignored until an operator runs
        ``helpdesk-bot rooms repin``.
        """
        db = self.services.db
        pinned = await room_store.load_pin(db)
        configured_id = self.settings.rooms.triage.startswith("!")
        if resolved.startswith("!") and (pinned is None or configured_id):
            if pinned != resolved:
                await room_store.save_pin(db, resolved)
                log.info("triage room pinned: %s", resolved)
            return resolved
        if pinned is None:
            return resolved  # the alias does not resolve yet; pinned once it does
        if resolved.startswith("!") and resolved != pinned:
            self._alias_moved = resolved
            log.error(
                "SECURITY WARNING: rooms.triage %s now points to %s, not to the pinned triage "
                "room %s. Keeping the pinned room; if the move is intended, run "
                "'helpdesk-bot rooms repin'.",
                self.settings.rooms.triage,
                resolved,
                pinned,
            )
        return pinned

    async def joined_configured(self, key: RoomKey, room_id: str, known: str | None) -> None:
        """The bot joined the helpdesk or triage room: publish (and pin) its id."""
        self.set_room(key, room_id)
        if key == "triage" and known is None:  # the alias resolved only now: pin it
            await room_store.save_pin(self.services.db, room_id)
            log.info("triage room pinned: %s", room_id)

    # -- keeping up with each sync ---------------------------------------------------

    async def room_synced(self, room_id: str, events: list) -> None:
        """Take a joined room's server-sent state and timeline from a sync."""
        if room_id == self.ids.triage and self._alias_moved:
            await self._warn_alias_moved(room_id)
        self.states.apply_sync(room_id, events)

    def check_triage(self, room_id: str) -> None:
        """Once, when the triage room's state is known: is it private enough?"""
        if room_id == self.ids.triage and not self._triage_checked:
            self.check_triage_privacy(room_id)

    def check_triage_privacy(self, room_id: str) -> None:
        """Warn (or refuse, with ``rooms.require_private_triage``) about an open triage room.

        Raises:
            UnsafeTriageRoom: it is open and ``rooms.require_private_triage`` is set.
        """
        state = self.states.rooms.get(room_id)
        if state is None:
            return
        self._triage_checked = True
        problems = room_store.triage_problems(state)
        if not problems:
            return
        text = f"the triage room {room_id} is not private: {'; '.join(problems)}"
        if self.settings.rooms.require_private_triage:
            log.error("%s; refusing to run (rooms.require_private_triage is set)", text)
            raise UnsafeTriageRoom(text)
        log.warning("SECURITY WARNING: %s. Reports shown there may reach others.", text)

    async def reread_members(self, room_id: str) -> None:
        """After a gap or a (re)join, take the joined members from the server again."""
        response = await self.client.joined_members(room_id)
        if isinstance(response, JoinedMembersResponse):
            self.states.replace_joined(room_id, {m.user_id for m in response.members})
        else:
            log.warning(
                "cannot re-read the members of %s: %s",
                room_id,
                getattr(response, "message", response),
            )

    def left(self, room_id: str) -> bool:
        """Removed, kicked or banned from ``room_id``; True if it is a configured room."""
        self.states.forget(room_id)  # nobody in that room counts for us any more
        if room_id not in (self.ids.helpdesk, self.ids.triage):
            return False
        log.error(
            "the bot is no longer in configured room %s; %s",
            room_id,
            "nobody has security-team rights from it until it rejoins"
            if room_id == self.ids.triage
            else "it will try to rejoin",
        )
        return True

    async def _warn_alias_moved(self, room_id: str) -> None:
        """Tell the pinned triage room, once per target, that its alias was moved."""
        moved, self._alias_moved = self._alias_moved, None
        text = (
            f"⚠ Security warning: the alias {self.settings.rooms.triage} now points to another "
            f"room ({moved}). I keep treating THIS room as the triage room and its members as "
            "the security team. If the move was intended, an operator runs "
            "'helpdesk-bot rooms repin'; if not, someone repointed the alias."
        )
        async with self.services.db.sessions.begin() as session:
            message = Message(md.escape(text), ToRoom(room_id), key=f"rooms:alias-moved:{moved}")
            await Messenger.post(session, message)
        self.services.outbox.wake()
