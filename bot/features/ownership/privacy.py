"""The ownership map's part of ``!privacy`` (it holds the organisation's map, not reports)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.ownership.models import Area, AuditEntry
from bot.privacy import Forgotten


class OwnershipPrivacy:
    name = "Ownership map"

    async def _listed(self, session: AsyncSession, user_id: str) -> int:
        areas = await session.scalars(select(Area))
        return sum(1 for a in areas if user_id in (a.owners or []) + (a.backups or []))

    async def _edits(self, session: AsyncSession, user_id: str) -> int:
        query = select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == user_id)
        return int(await session.scalar(query) or 0)

    async def privacy_summary(self, session: AsyncSession, user_id: str) -> list[str]:
        lines = []
        if listed := await self._listed(session, user_id):
            lines.append(f"you are named as owner or backup of {listed} area(s) of the map")
        if edits := await self._edits(session, user_id):
            lines.append(f"{edits} change(s) you made to the map, in its audit trail")
        return lines

    async def forget(self, session: AsyncSession, user_id: str) -> Forgotten:
        done = Forgotten()
        if await self._listed(session, user_id) or await self._edits(session, user_id):
            done.kept.append(
                "your place in the ownership map and its audit trail: that is the "
                "organisation's record; ask the map's maintainers to change it"
            )
        return done
