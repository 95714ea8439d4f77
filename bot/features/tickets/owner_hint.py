"""Who to ask instead: a "not a security matter" close names the area's owner, if known."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tickets.models import Ticket

if TYPE_CHECKING:
    from bot.features.ownership.settings import OwnershipSettings


async def owner_pointer(
    session: AsyncSession, settings: OwnershipSettings, ticket: Ticket, why: str
) -> str | None:
    """The sentence naming the owner of the area the ticket is about, or None.

    Asks the ownership service (the responsibilities map) with the team's closing words
    first, then the ticket's text; only a confident single match is named.
    """
    from bot.features.ownership.service import OwnershipService

    service = OwnershipService(settings)
    for question in (why, ticket.text or ""):
        if not question.strip():
            continue
        result, _ = await service.lookup(session, question)
        best = result.best if result.kind == "answer" else None
        if best is None:
            continue
        area = best.area
        who = ", ".join(area.owners) or area.contact or (f"team {area.team}" if area.team else "")
        if who:
            return (
                "This isn't something the security team owns. It belongs to "
                f"{area.name}: please ask {who}."
            )
    return None
