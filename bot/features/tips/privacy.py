"""The tips feature's part of ``!privacy`` and ``!forget me`` (counts only, keyed marks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import Forgotten

if TYPE_CHECKING:
    from bot.features.tips.service import TipsService


class TipsPrivacy:
    """Adapts :class:`TipsService` to the privacy registry's provider interface."""

    name = "Security tips"

    def __init__(self, tips: TipsService):
        self.tips = tips

    async def privacy_summary(self, session: AsyncSession, user_id: str) -> list[str]:
        line = await self.tips.privacy_summary(session, user_id)
        return [line.removeprefix("Security tips: ")] if line else []

    async def forget(self, session: AsyncSession, user_id: str) -> Forgotten:
        said = (await self.tips.forget(session, user_id)).removeprefix("Security tips: ")
        done = Forgotten()
        if not said.startswith("nothing"):
            done.removed.append(f"security tips: {said}")
        return done
