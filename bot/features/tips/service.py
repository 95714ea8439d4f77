"""The tips job and the queries behind the commands.

The job is thin: :func:`plan_posts` decides, this claims each due slot in the database
and queues the message in the outbox *in the same transaction*. A slot claimed by
another replica (or an earlier run) fails the unique constraint and is skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Outbound, Reaction
from bot.features.tips import repository as repo
from bot.features.tips.campaigns import Campaign
from bot.features.tips.loader import CampaignFileError, load_campaigns
from bot.features.tips.models import MISSED, POSTED, SKIPPED
from bot.features.tips.render import DONE_KEY, tip_message
from bot.features.tips.schedule import (
    Slot,
    campaign_rooms,
    local_today,
    plan_posts,
    slot_for,
)
from bot.matrix.content import message_content
from bot.outbox import txn_id_for
from bot.services import Services

log = logging.getLogger(__name__)

# Reactions that count as "done" (with and without the emoji variation selector).
DONE_KEYS = {DONE_KEY, DONE_KEY + "\ufe0f", "✔️", "✔", "☑️"}


@dataclass(frozen=True)
class DayStats:
    local_date: date
    day: int
    title: str
    status: str
    done: int


class TipsService:
    """Campaigns loaded once at start, the posting job, and read-only views."""

    def __init__(self, services: Services, campaigns: list[Campaign], problems: list[str]):
        self.services = services
        self.campaigns = campaigns
        self.problems = problems  # why the file could not be loaded, if it could not
        self.ticks = 0
        self._ticked = asyncio.Condition()
        self._started = False

    @classmethod
    def from_settings(cls, services: Services) -> TipsService:
        """Load the campaigns file; a broken file disables tips (logged), not the bot."""
        settings = services.settings.tips
        if not settings.enabled:
            return cls(services, [], [])
        try:
            return cls(services, load_campaigns(settings.file), [])
        except CampaignFileError as exc:
            log.error("tips disabled: %s has %d problem(s)", exc.source, len(exc.problems))
            for problem in exc.problems:
                log.error("  tips file: %s", problem)
            return cls(services, [], exc.problems)

    # -- lookup -----------------------------------------------------------------

    def campaign(self, name: str | None) -> Campaign | None:
        if name is None:
            return None
        return next((c for c in self.campaigns if c.name == name.lower()), None)

    def resolve_room(self, ref: str) -> str | None:
        """A campaign's room entry -> room id (helpdesk/triage keywords, configured aliases)."""
        rooms, configured = self.services.rooms, self.services.settings.rooms
        if ref in ("helpdesk", configured.helpdesk):
            return rooms.helpdesk
        if ref in ("triage", configured.triage):
            return rooms.triage
        if ref.startswith("!"):
            return ref
        # Other aliases would need a directory lookup, which only bot/matrix may do;
        # docs/tips.md asks for the room id instead.
        return None

    def rooms_of(self, campaign: Campaign) -> list[str]:
        """The campaign's room ids; logs each entry that cannot be posted to."""
        for ref in campaign.rooms:
            if self.resolve_room(ref) is None:
                log.error("tips: campaign %s room %s is not resolvable", campaign.name, ref)
        return campaign_rooms(campaign, self.resolve_room)

    # -- the job ----------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic job (once, from ``on_ready``)."""
        if self._started or not self.campaigns:
            return
        self._started = True
        for campaign in self.campaigns:
            self.rooms_of(campaign)  # logs every room that cannot be posted to, once
        self.services.scheduler.every(
            self.services.settings.tips.check_interval, self.tick, "tips-daily"
        )

    async def tick(self) -> None:
        """Post what is due now, record what was missed, copy sent event ids."""
        try:
            await self._tick()
        finally:
            async with self._ticked:
                self.ticks += 1
                self._ticked.notify_all()

    async def wait_ticks(self, count: int) -> None:
        """Until ``count`` more ticks have finished (for tests and tools)."""
        async with self._ticked:
            target = self.ticks + count
            await self._ticked.wait_for(lambda: self.ticks >= target)

    async def _tick(self) -> None:
        now = self.services.clock()
        db = self.services.db
        earliest = min((local_today(c, now) for c in self.campaigns), default=now.date())
        async with db.sessions() as session:
            claimed = await repo.claimed_keys(session, since=earliest - timedelta(days=1))
        plan = plan_posts(
            self.campaigns, now, claimed, self.services.settings.tips.catch_up, self.resolve_room
        )
        queued = False
        for slot in plan.due:
            queued |= await self._post(slot)
        for slot in plan.missed:
            await self._record_missed(slot, now)
        if queued:
            self.services.outbox.wake()
        async with db.sessions.begin() as session:
            await repo.fill_event_ids(session)

    async def _claim(self, slot: Slot, status: str, content: dict[str, Any] | None) -> bool:
        """Claim ``slot`` (and queue ``content`` for it) in one transaction.

        Returns:
            False when another replica or an earlier run had claimed it already.
        """
        try:
            async with self.services.db.sessions.begin() as session:
                txn_id = txn_id_for(slot.txn_key) if content is not None else None
                await repo.claim(session, slot=slot, status=status, txn_id=txn_id)
                if content is not None:
                    await self.services.outbox.add(
                        session, txn_key=slot.txn_key, room_id=slot.room_id, content=content
                    )
        except IntegrityError:
            return False
        return True

    async def _post(self, slot: Slot) -> bool:
        prefix = self.services.settings.bot.command_prefix
        text, html = tip_message(slot.campaign, slot.tip, prefix)
        if not await self._claim(slot, POSTED, message_content(text, html)):
            log.info("tip %s already claimed elsewhere; not posting", slot.txn_key)
            return False
        log.info("tip %s queued (day %d)", slot.txn_key, slot.day)
        return True

    async def _record_missed(self, slot: Slot, now: datetime) -> None:
        if not await self._claim(slot, MISSED, None):
            return
        late = now - slot.scheduled
        log.warning(
            "tip %s missed: the bot was not running at %s (now %s late, catch-up window %s); "
            "not posting it today",
            slot.txn_key,
            slot.scheduled.isoformat(),
            str(late).split(".")[0],
            self.services.settings.tips.catch_up,
        )

    # -- commands ---------------------------------------------------------------

    async def skip(
        self, session: AsyncSession, campaign: Campaign, local_date: date, by: str
    ) -> int:
        """Claim every room's slot on ``local_date`` as skipped. Returns rooms skipped.

        Raises:
            IntegrityError: a slot is already claimed (the caller reports it).
        """
        count = 0
        for room_id in self.rooms_of(campaign):
            slot = slot_for(campaign, local_date, room_id)
            if slot is None:
                continue
            await repo.claim(session, slot=slot, status=SKIPPED, skipped_by=by)
            count += 1
        return count

    async def stats(
        self, session: AsyncSession, campaign: Campaign, run: tuple[date, date]
    ) -> list[DayStats]:
        """Per day of ``run``: status and how many people reacted ✅ (all rooms summed)."""
        posts = await repo.posts_for(session, campaign=campaign.name, first=run[0], last=run[1])
        counts = await repo.done_counts(session, post_ids=[p.id for p in posts])
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
                done=(prev.done if prev else 0) + counts.get(post.id, 0),
            )
        return [by_day[d] for d in sorted(by_day)]

    # -- reactions --------------------------------------------------------------

    async def on_reaction(
        self, reaction: Reaction, session: AsyncSession, services: Services
    ) -> list[Outbound] | None:
        """Count a ✅ on a tip post, once per person; no message is sent."""
        if reaction.key not in DONE_KEYS:
            return None
        post = await repo.post_by_event(session, event_id=reaction.target_event_id)
        if post is None:
            return None
        reactor = hashlib.sha256(f"{post.id}:{reaction.sender}".encode()).hexdigest()
        if await repo.mark_done(session, post_id=post.id, reactor=reactor):
            log.info("tip post %s marked done by one more person", post.id)
        return None
