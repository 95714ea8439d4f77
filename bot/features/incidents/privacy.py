"""The incidents feature's part of ``!privacy`` and ``!forget me``."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.incidents.models import Incident, IncidentIntake
from bot.features.incidents.retention import CLOSED, _erase
from bot.privacy import Forgotten
from bot.services import Services

FORGOTTEN = "(forgotten)"


class IncidentsPrivacy:
    name = "Incidents"

    def __init__(self, services: Services):
        self.services = services

    async def _reports(self, session: AsyncSession, user_id: str) -> list[Incident]:
        query = select(Incident).where(Incident.reporter == user_id).order_by(Incident.id)
        return list(await session.scalars(query))

    async def privacy_summary(self, session: AsyncSession, user_id: str) -> list[str]:
        reports = await self._reports(session, user_id)
        lines = []
        if reports:
            refs = ", ".join(f"INC-{i.id}" for i in reports)
            days = self.services.settings.incidents.retention_days
            keep = (
                f"their text is erased {days} days after they are closed"
                if days
                else "kept for the post-incident review until deleted"
            )
            lines.append(
                f"{len(reports)} incident report(s) ({refs}) with your name, your answers "
                f"and the team's timeline; {keep}"
            )
        if await session.get(IncidentIntake, user_id) is not None:
            lines.append("an incident report you are filling in right now (its answers so far)")
        return lines

    async def forget(self, session: AsyncSession, user_id: str) -> Forgotten:
        done = Forgotten()
        intake = await session.get(IncidentIntake, user_id)
        if intake is not None:
            await session.delete(intake)
            done.removed.append("the incident report you were filling in")
        now = self.services.clock()
        for incident in await self._reports(session, user_id):
            if incident.status not in CLOSED:
                done.kept.append(
                    f"INC-{incident.id}: still open, the team needs it to respond (ask again "
                    "once it is closed)"
                )
                continue
            if incident.purged_at is None:
                await _erase(session, incident, now)
            incident.reporter = FORGOTTEN
            done.removed.append(f"INC-{incident.id}: your name and your words")
        return done
