"""Who did a tip, counted without a list: ✅ marks, "stuck" marks, their expiry.

Every mark is a keyed hash (:mod:`bot.features.tips.markers`); the bot answers only
counts (with a floor, see :func:`shown`) and, to a person in a DM, their own days.
There is no leaderboard and no per-person report, by design.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Outbound, Reaction, Redaction
from bot.features.tips import repository as repo
from bot.features.tips.campaigns import Campaign
from bot.features.tips.markers import DONE, STUCK, Markers, marker_key
from bot.features.tips.models import POSTED
from bot.features.tips.render import DONE_KEY
from bot.services import Services

log = logging.getLogger(__name__)

# Reactions that count as "done" (with and without the emoji variation selector).
DONE_KEYS = {DONE_KEY, DONE_KEY + "\ufe0f", "✔️", "✔", "☑️"}
_MAX_YEARS_BACK = 12  # keep_days is at most ten years


@dataclass(frozen=True)
class DayStats:
    local_date: date
    day: int
    title: str
    status: str
    done: int
    stuck: int


def shown(count: int, floor: int) -> str:
    """A count as the team sees it: under ``floor`` it is only "fewer than N".

    ``floor`` 1 means no floor (zero is then shown as it is).
    """
    return str(count) if count >= floor or floor <= 1 else f"fewer than {floor}"


def expired_until(campaign: Campaign, today: date, keep_days: int) -> date | None:
    """The end of the latest run of ``campaign`` whose data is due for deletion."""
    for year in range(today.year, today.year - _MAX_YEARS_BACK, -1):
        run = campaign.occurrence(year)
        if run is not None and run[1] + timedelta(days=keep_days) < today:
            return run[1]
    return None


class Tracker:
    """Marks made, taken back, counted, expired and forgotten."""

    def __init__(self, services: Services):
        self.services = services
        key = marker_key(services.settings)
        self.markers = Markers(key) if key is not None else None

    # -- events -------------------------------------------------------------------

    async def on_reaction(
        self, reaction: Reaction, session: AsyncSession, services: Services
    ) -> list[Outbound] | None:
        """Count a ✅ on a tip post, once per person and day; no message is sent."""
        if reaction.key not in DONE_KEYS or self.markers is None:
            return None
        post = await repo.post_by_event(session, event_id=reaction.target_event_id)
        if post is None:
            return None
        added = await repo.add_mark(
            session,
            kind=DONE,
            campaign=post.campaign,
            local_date=post.local_date,
            marker=self.markers.person(DONE, post.campaign, post.local_date, reaction.sender),
            post_id=post.id,
            event_ref=self.markers.event(reaction.event_id),
        )
        if added:
            log.info("tip %s %s marked done by one more person", post.campaign, post.local_date)
        return None

    async def on_redaction(
        self, redaction: Redaction, session: AsyncSession, services: Services
    ) -> None:
        """A ✅ taken back (its reaction redacted) no longer counts."""
        if self.markers is None:
            return
        mark = await repo.remove_mark(session, event_ref=self.markers.event(redaction.redacts))
        if mark is not None:
            log.info("tip %s %s: a ✅ was taken back", mark.campaign, mark.local_date)

    async def stuck(
        self,
        session: AsyncSession,
        campaign: Campaign,
        local_date: date,
        user_id: str,
        post_id: int | None,
    ) -> None:
        """Count ``user_id`` as stuck on that day (once)."""
        if self.markers is None:
            return
        await repo.add_mark(
            session,
            kind=STUCK,
            campaign=campaign.name,
            local_date=local_date,
            marker=self.markers.person(STUCK, campaign.name, local_date, user_id),
            post_id=post_id,
        )

    async def is_stuck(
        self, session: AsyncSession, campaign: Campaign, local_date: date, user_id: str
    ) -> bool:
        """Whether ``user_id`` already said they were stuck on that day."""
        if self.markers is None:
            return False
        marker = self.markers.person(STUCK, campaign.name, local_date, user_id)
        return bool(await repo.present_markers(session, markers=[marker]))

    # -- views ----------------------------------------------------------------------

    async def stats(
        self, session: AsyncSession, campaign: Campaign, run: tuple[date, date]
    ) -> list[DayStats]:
        """Per day of ``run``: status, people who ✅ and people who got stuck."""
        posts = await repo.posts_for(session, campaign=campaign.name, first=run[0], last=run[1])
        counts = await repo.mark_counts(session, campaign=campaign.name, first=run[0], last=run[1])
        by_day: dict[date, DayStats] = {}
        for post in posts:
            tip = campaign.tip_for(post.local_date)
            prev = by_day.get(post.local_date)
            status = POSTED if POSTED in (post.status, prev and prev.status) else post.status
            by_day[post.local_date] = DayStats(
                local_date=post.local_date,
                day=post.day,
                title=tip.title if tip else "?",
                status=status,
                done=counts.get((DONE, post.local_date), 0),
                stuck=counts.get((STUCK, post.local_date), 0),
            )
        return [by_day[d] for d in sorted(by_day)]

    async def progress(
        self, session: AsyncSession, campaign: Campaign, run: tuple[date, date], user_id: str
    ) -> set[date] | None:
        """The days of ``run`` that ``user_id`` marked ✅ (None: marks are off)."""
        if self.markers is None:
            return None
        days = [run[0] + timedelta(days=i) for i in range((run[1] - run[0]).days + 1)]
        mine = {self.markers.person(DONE, campaign.name, d, user_id): d for d in days}
        present = await repo.present_markers(session, markers=list(mine))
        return {mine[m] for m in present}

    # -- retention and privacy ------------------------------------------------------

    async def expire(self, session: AsyncSession, campaigns: list[Campaign], today: date) -> int:
        """Delete marks ``tips.keep_days`` after their run ended. Returns rows deleted."""
        keep = self.services.settings.tips.keep_days
        deleted = 0
        for campaign in campaigns:
            until = expired_until(campaign, today, keep)
            if until is not None:
                deleted += await repo.expire_marks(
                    session, campaign=campaign.name, first=None, last=until
                )
        # Campaigns no longer in the file: their runs are over; count from each day.
        known = {c.name for c in campaigns}
        for name in await repo.mark_campaigns(session) - known:
            deleted += await repo.expire_marks(
                session, campaign=name, first=None, last=today - timedelta(days=keep + 1)
            )
        if deleted:
            log.info("tips: deleted %d expired mark(s) (keep_days=%d)", deleted, keep)
        return deleted

    async def _own_markers(self, session: AsyncSession, user_id: str) -> list[str]:
        if self.markers is None:
            return []
        candidates = [
            self.markers.person(kind, campaign, day, user_id)
            for kind, campaign, day in await repo.mark_days(session)
        ]
        return sorted(await repo.present_markers(session, markers=candidates))

    async def privacy_summary(self, session: AsyncSession, user_id: str) -> str | None:
        """What tips data exists about ``user_id``: counts only (None: nothing)."""
        own = await self._own_markers(session, user_id)
        if not own:
            return None
        marks = await repo.marks_by_marker(session, markers=own)
        done = sum(1 for kind in marks if kind == DONE)
        stuck = len(marks) - done
        keep = self.services.settings.tips.keep_days
        return (
            f"Security tips: {done} day(s) you marked done (✅) and {stuck} day(s) you said "
            f"you were stuck, kept only as keyed hashes that cannot name you without the "
            f"bot's key, deleted {keep} days after each campaign ends."
        )

    async def forget(self, session: AsyncSession, user_id: str) -> str:
        """Delete every mark of ``user_id``; says what went."""
        own = await self._own_markers(session, user_id)
        deleted = await repo.delete_markers(session, markers=own)
        if not deleted:
            return "Security tips: nothing stored about you."
        log.info("tips: deleted %d mark(s) on request", deleted)
        return f"Security tips: deleted your {deleted} mark(s) (✅ and stuck days)."
