"""Campaign rooms given as aliases: resolved through the homeserver, stored, refreshed.

Only ``bot/matrix`` talks to the homeserver; the Matrix layer's directory offers
``resolve_alias``. The last answer for each alias is kept in the database (``kv``), so a
homeserver that is briefly away does not stop the posts, and every replica agrees.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tips.campaigns import Campaign
from bot.services import Services
from bot.storage import kv

log = logging.getLogger(__name__)

ALIAS_REFRESH_SECONDS = 600.0  # aliases are looked up again this often (they can move)
ALIAS_RETRY_SECONDS = 60.0  # an alias that did not resolve is tried again this often
_ALIAS_KEY = "tips:alias:"


class AliasRooms:
    """Alias -> room id for the campaigns' rooms other than the configured two."""

    def __init__(self, services: Services):
        self.services = services
        self.rooms: dict[str, str] = {}
        self._aliases_checked_at: float | None = None
        self._missing_tried_at = 0.0

    def get(self, alias: str) -> str | None:
        """The room id ``alias`` resolved to last (None: not (yet) resolved)."""
        return self.rooms.get(alias)

    async def refresh(
        self, campaigns: list[Campaign], *, force: bool = False, session: AsyncSession | None = None
    ) -> None:
        """Resolve campaign rooms given as aliases; remember each answer in the database
        (in ``session``, the caller's transaction, if given: a command's handler must not
        open a second writer while its own transaction holds SQLite's write lock)."""
        configured = {self.services.settings.rooms.helpdesk, self.services.settings.rooms.triage}
        wanted = {
            ref
            for c in campaigns
            for ref in c.rooms
            if ref.startswith("#") and ref not in configured
        }
        now = asyncio.get_running_loop().time()
        stale = (
            self._aliases_checked_at is None
            or now - self._aliases_checked_at >= ALIAS_REFRESH_SECONDS
        )
        missing = wanted - set(self.rooms)
        if force or stale:
            todo, self._aliases_checked_at = wanted, now
        elif missing and now - self._missing_tried_at >= ALIAS_RETRY_SECONDS:
            todo = missing
        else:
            return
        self._missing_tried_at = now
        resolver = getattr(self.services.directory, "resolve_alias", None)
        for alias in sorted(todo):
            await self._resolve(alias, resolver, session)

    async def _resolve(self, alias: str, resolver: Any, session: AsyncSession | None) -> None:
        room_id, answered = None, False
        if resolver is not None:
            try:
                room_id, answered = await resolver(alias), True
            except Exception as exc:  # the homeserver is away: use the stored answer
                log.warning("tips: cannot resolve %s now (%s)", alias, type(exc).__name__)
        if session is not None:
            room_id = await _remember(session, alias, room_id, answered)
        else:
            async with self.services.db.sessions.begin() as own:
                room_id = await _remember(own, alias, room_id, answered)
        if room_id is None:
            log.error("tips: campaign room %s does not resolve; not posting there", alias)
            self.rooms.pop(alias, None)
        elif self.rooms.get(alias) != room_id:
            log.info("tips: campaign room %s is %s", alias, room_id)
            self.rooms[alias] = room_id


async def _remember(
    session: AsyncSession, alias: str, room_id: str | None, answered: bool
) -> str | None:
    """Store the homeserver's answer, or (it did not answer) read the stored one."""
    if room_id is not None:
        await kv.put(session, _ALIAS_KEY + alias, room_id)
    elif not answered:
        room_id = await kv.get(session, _ALIAS_KEY + alias)
    return room_id
