"""Invites and joins: accept invites from allowed servers, stay in the configured rooms.

An invite that cannot be accepted is retried (a sync shows it only once), at most
``MAX_INVITE_TRIES`` times. The helpdesk and triage rooms are joined after each sync
until the bot is in both; the first time it is, the ``on_ready`` callbacks run (once per
process: a rejoin after a kick must not start schedules twice).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nio import AsyncClient, InviteMemberEvent, JoinResponse

from bot.matrix import rooms as room_store
from bot.matrix.directory import ROOM_KEYS, RoomDirectory
from bot.settings import Settings
from bot.storage import Database

log = logging.getLogger(__name__)

JOIN_RETRY_SECONDS = 60.0
MAX_INVITE_TRIES = 10  # an invite that cannot be accepted for 10 minutes is dropped


def _inviter(invite_state: list[Any], bot_user_id: str) -> tuple[str | None, bool]:
    """Who invited the bot, and whether as a DM (``is_direct``)."""
    # nio strips "content" from the raw source of stripped invite-state member events;
    # its parsed attributes keep membership and content.
    inviter = None
    is_direct = False
    for event in invite_state:
        if (
            isinstance(event, InviteMemberEvent)
            and event.state_key == bot_user_id
            and event.membership == "invite"
        ):
            inviter = event.sender
            is_direct = bool((event.content or {}).get("is_direct"))
    return inviter, is_direct


class RoomJoins:
    """Accepts invites and keeps the bot in the configured rooms."""

    def __init__(
        self, settings: Settings, client: AsyncClient, db: Database, directory: RoomDirectory
    ):
        self.settings = settings
        self.client = client
        self.db = db
        self.directory = directory
        self.bot_user_id = settings.matrix.user_id
        self.on_ready: list[Callable[[], Awaitable[None]]] = []
        self.joined_config_rooms = False
        self.last_join_attempt = -JOIN_RETRY_SECONDS
        self._ready_fired = False
        self.failed_invites: dict[str, list[Any]] = {}  # room id -> its invite state
        self._invite_tries: dict[str, int] = {}
        self.last_invite_retry = 0.0

    async def on_invite(self, room_id: str, invite_state: list[Any]) -> None:
        """Join ``room_id`` if the inviter's server is allowed, else decline."""
        inviter, is_direct = _inviter(invite_state, self.bot_user_id)
        server = inviter.split(":", 1)[1] if inviter and ":" in inviter else None
        if server not in self.settings.matrix.invite_servers:
            log.info("declining invite to %s from %s (server not allowed)", room_id, inviter)
            await self.client.room_leave(room_id)
            return
        response = await self.client.join(room_id)
        if isinstance(response, JoinResponse):
            log.info("joined %s on invite from %s", room_id, inviter)
            if is_direct and inviter:
                await room_store.remember_direct_room(self.db, inviter, room_id)
                await room_store.remember_direct_invite(self.db, inviter, room_id)
                self.directory.states.direct_invites[room_id] = inviter
            return
        log.warning("could not join %s: %s", room_id, getattr(response, "message", response))
        tries = self._invite_tries.get(room_id, 0) + 1
        if tries < MAX_INVITE_TRIES:  # retried (see retry_invites)
            self.failed_invites[room_id], self._invite_tries[room_id] = invite_state, tries
            self.last_invite_retry = asyncio.get_running_loop().time()

    async def retry_invites(self) -> None:
        """Join again the rooms whose invite could not be accepted (a sync shows it once)."""
        loop = asyncio.get_running_loop()
        if not self.failed_invites or loop.time() - self.last_invite_retry < JOIN_RETRY_SECONDS:
            return
        self.last_invite_retry = loop.time()
        for room_id in list(self.failed_invites):
            in_room = self.bot_user_id in self.directory.joined_members(room_id)
            if room_id in self.client.rooms and in_room:
                del self.failed_invites[room_id]
                continue
            await self.on_invite(room_id, self.failed_invites.pop(room_id))

    def lost(self, room_id: str) -> None:
        """The server says the bot left ``room_id``: rejoin it if it is a configured room."""
        if self.directory.left(room_id):
            self.joined_config_rooms = False

    async def ensure_rooms(self) -> None:
        """Join the helpdesk and triage rooms (at most once a minute until both work)."""
        if self.joined_config_rooms:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self.last_join_attempt < JOIN_RETRY_SECONDS:
            return
        self.last_join_attempt = loop.time()
        ok = True
        for key in ROOM_KEYS:
            ref = getattr(self.settings.rooms, key)
            known = getattr(self.directory.ids, key)
            if key == "triage":
                ref = known or ref  # the pinned room, never where a moved alias points
            response = await self.client.join(ref)
            if isinstance(response, JoinResponse):
                await self.directory.joined_configured(key, response.room_id, known)
            else:
                ok = False
                log.error(
                    "cannot join rooms.%s %s: %s (will retry)",
                    key,
                    ref,
                    getattr(response, "message", response),
                )
        self.joined_config_rooms = ok
        if ok and not self._ready_fired:
            # Once per process: a rejoin after a kick must not start schedules twice.
            self._ready_fired = True
            for callback in self.on_ready:
                await callback()
