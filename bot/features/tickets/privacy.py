"""The tickets feature's part of ``!privacy`` and ``!forget me``."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tickets import repository as repo
from bot.features.tickets.anonymity import reporter_hash
from bot.features.tickets.models import Ticket, TicketComment
from bot.privacy import Forgotten
from bot.services import Services


class TicketsPrivacy:
    name = "Tickets"

    def __init__(self, services: Services):
        self.services = services

    async def _tickets(self, session: AsyncSession, user_id: str) -> list[Ticket]:
        user_hash = await reporter_hash(session, self.services, user_id)
        query = select(Ticket).where(
            or_(Ticket.reporter_id == user_id, Ticket.reporter_hash == user_hash)
        )
        return list(await session.scalars(query.order_by(Ticket.id)))

    async def privacy_summary(self, session: AsyncSession, user_id: str) -> list[str]:
        tickets = await self._tickets(session, user_id)
        if not tickets:
            return []
        named = [t.ref for t in tickets if not t.anonymous]
        anonymous = [t.ref for t in tickets if t.anonymous]
        days = self.services.settings.tickets.retention_days
        keep = (
            f"their text is erased {days} days after they are closed"
            if days
            else "their text is kept until you or the team delete it"
        )
        lines = []
        if named:
            lines.append(
                f"{len(named)} ticket(s) under your name ({', '.join(named)}): the text, "
                "comments, replies and who changed what"
            )
        if anonymous:
            lines.append(
                f"{len(anonymous)} anonymous ticket(s) ({', '.join(anonymous)}), linked to you "
                "only by a keyed fingerprint and an encrypted way back (not readable in the "
                "database)"
            )
        lines.append(f"{keep}; tickets filed without follow-up are not linked to you at all")
        return lines

    async def forget(self, session: AsyncSession, user_id: str) -> Forgotten:
        done = Forgotten()
        for ticket in await self._tickets(session, user_id):
            if ticket.state != "closed":
                done.kept.append(
                    f"{ticket.ref}: still open, the team is working on it (ask again once "
                    "it is closed, or close it with the team)"
                )
                continue
            ticket.text = None
            ticket.reporter_id = ticket.reporter_hash = ticket.reporter_route = None
            ticket.reporter_room_id = ticket.reporter_dm_txn = ticket.source_hash = None
            ticket.anonymous = True
            ticket.purged_at = ticket.purged_at or self.services.clock()
            for comment in await repo.comments(session, ticket_id=ticket.id):
                if comment.kind == "comment":
                    comment.text, comment.author = None, None
            await repo.forget_messages(session, ticket_id=ticket.id)
            done.removed.append(f"{ticket.ref}: your text and everything linking it to you")
        comments = await session.scalars(
            select(TicketComment).where(TicketComment.author == user_id)
        )
        if any(c.kind != "comment" for c in comments):
            done.kept.append(
                "notes and replies you wrote as a security-team member (part of the cases' record)"
            )
        return done
