"""The tips job and the queries behind the commands.

The job is thin: :func:`plan_posts` decides, this claims each due slot in the database
and queues the message in the outbox *in the same transaction*. A slot claimed by
another replica (or an earlier run) fails the unique constraint and is skipped. Each
tick also picks up an edited campaigns file (:mod:`bot.features.tips.live`), resolves
campaign rooms given as aliases, and deletes expired marks.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.context import Outbound, Reaction, Redaction
from bot.features.tips import repository as repo
from bot.features.tips.aliases import AliasRooms
from bot.features.tips.campaigns import Campaign
from bot.features.tips.live import CampaignSource, Change
from bot.features.tips.models import MISSED, POSTED, SKIPPED
from bot.features.tips.render import tip_message
from bot.features.tips.schedule import Slot, campaign_rooms, local_today, plan_posts, slot_for
from bot.features.tips.tracking import DONE_KEYS, DayStats, Tracker
from bot.messaging import Message, Messenger, ToRoom, md
from bot.outbox import txn_id_for
from bot.services import Services

log = logging.getLogger(__name__)

__all__ = ["DONE_KEYS", "DayStats", "TipsService"]


class TipsService:
    """Campaigns (kept current from the file), the posting job, and read-only views."""

    def __init__(self, services: Services, source: CampaignSource | None):
        self.services = services
        self.source = source  # None when tips are disabled
        self.tracker = Tracker(services)
        self.aliases = AliasRooms(services)
        self._started = False
        self._pending: Change | None = None  # a broken file at start, reported on first tick

    @classmethod
    def from_settings(cls, services: Services) -> TipsService:
        """Load the campaigns file; a broken file disables posting (logged), not the bot."""
        settings = services.settings.tips
        if not settings.enabled:
            return cls(services, None)
        tips = cls(services, CampaignSource(settings.file))
        assert tips.source is not None
        change = tips.source.check()
        if change is not None and not change.ok:
            tips._log_problems(change)
            tips._pending = change
        return tips

    @property
    def campaigns(self) -> list[Campaign]:
        return self.source.campaigns if self.source else []

    @property
    def problems(self) -> list[str]:
        """Why the newest version of the file is not in use (empty when it is)."""
        return self.source.problems if self.source else []

    # -- lookup -----------------------------------------------------------------

    def campaign(self, name: str | None) -> Campaign | None:
        if name is None:
            return None
        return next((c for c in self.campaigns if c.name == name.lower()), None)

    def resolve_room(self, ref: str) -> str | None:
        """A campaign's room entry -> room id (keywords, configured aliases, other aliases)."""
        rooms, configured = self.services.rooms, self.services.settings.rooms
        if ref in ("helpdesk", configured.helpdesk):
            return rooms.helpdesk
        if ref in ("triage", configured.triage):
            return rooms.triage
        if ref.startswith("!"):
            return ref
        return self.aliases.get(ref)

    def rooms_of(self, campaign: Campaign) -> list[str]:
        """The campaign's room ids; logs each entry that cannot be posted to."""
        for ref in campaign.rooms:
            if self.resolve_room(ref) is None:
                log.error("tips: campaign %s room %s is not resolvable", campaign.name, ref)
        return campaign_rooms(campaign, self.resolve_room)

    # -- the campaigns file -----------------------------------------------------

    def _log_problems(self, change: Change) -> None:
        assert self.source is not None
        kept = "keeping the last good version" if self.source.good_digest else "no tips posted"
        log.error("tips: %s has %d problem(s); %s", self.source.path, len(change.problems), kept)
        for problem in change.problems:
            log.error("  tips file: %s", problem)

    async def reload(self, session: AsyncSession | None = None) -> Change:
        """Re-read the campaigns file now (``!tip reload``).

        ``session``: the command's transaction; a notice about a broken file is queued in
        it (a second transaction would wait for the command's lock on SQLite).
        """
        assert self.source is not None
        change = self.source.check(force=True)
        assert change is not None
        await self._on_change(change, session)
        return change

    async def _on_change(self, change: Change, session: AsyncSession | None = None) -> None:
        assert self.source is not None
        if change.ok:
            log.info(
                "tips: %s loaded, %d campaign(s)", self.source.path, len(self.source.campaigns)
            )
            await self.aliases.refresh(self.campaigns, force=True, session=session)
            return
        self._log_problems(change)
        triage = self.services.rooms.triage
        if triage is None:
            self._pending = change  # told once the triage room is known
            return
        kept = (
            "I keep posting from the last good version."
            if self.source.good_digest
            else "No tips are posted until it is fixed."
        )
        every = self.services.settings.tips.check_interval.total_seconds()
        lines = [
            f"⚠️ The tips campaigns file {md.escape(str(self.source.path))} has "
            f"{len(change.problems)} problem(s). {kept}",
            "",
            *(f"- {md.escape(p)}" for p in change.problems),
            "",
            f"Fix it and save; I pick it up within {every:g} s (or say `{{prefix}}tip reload`).",
        ]
        prefix = self.services.settings.bot.command_prefix
        # Keyed by the broken version: told once, whatever the replicas or restarts.
        notice = _message("\n".join(lines), triage, prefix, f"tips-file:{change.digest}")
        if session is not None:
            await Messenger.post(session, notice)  # sent once the command commits
            return
        try:
            async with self.services.db.sessions.begin() as own:
                await Messenger.post(own, notice)
        except IntegrityError:
            return  # another replica queued the same notice at the same moment
        except Exception:
            self._pending = change  # e.g. the database is away: tell on a later tick
            raise
        self.services.outbox.wake()

    # -- the job ----------------------------------------------------------------

    def start(self) -> None:
        """Start the periodic job (once, from the plugin's ``start``)."""
        if self._started or self.source is None:
            return
        self._started = True
        self.services.scheduler.every(
            self.services.settings.tips.check_interval, self.tick, "tips-daily"
        )

    async def tick(self) -> None:
        """Reload an edited file, post what is due, record misses, expire old marks."""
        if self.source is not None:
            change = self.source.check()
            if change is None and self._pending is not None:
                change = self._pending
            self._pending = None
            if change is not None:
                await self._on_change(change)
        await self.aliases.refresh(self.campaigns)
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
            await self.tracker.expire(session, self.campaigns, now.date())

    async def _claim(self, slot: Slot, status: str, post: Message | None) -> bool:
        """Claim ``slot`` (and queue its ``post``) in one transaction.

        Returns:
            False when another replica or an earlier run had claimed it already.
        """
        try:
            async with self.services.db.sessions.begin() as session:
                txn_id = txn_id_for(slot.txn_key) if post is not None else None
                await repo.claim(session, slot=slot, status=status, txn_id=txn_id)
                if post is not None:
                    await Messenger.post(session, post)
        except IntegrityError:
            return False
        return True

    async def _post(self, slot: Slot) -> bool:
        prefix = self.services.settings.bot.command_prefix
        post = _message(tip_message(slot.campaign, slot.tip), slot.room_id, prefix, slot.txn_key)
        if not await self._claim(slot, POSTED, post):
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

    async def unskip(self, session: AsyncSession, campaign: Campaign, local_date: date) -> int:
        """Undo a skip: the date's tip is posted as usual. Returns rooms un-skipped."""
        return await repo.unskip(session, campaign=campaign.name, local_date=local_date)

    async def stats(
        self, session: AsyncSession, campaign: Campaign, run: tuple[date, date]
    ) -> list[DayStats]:
        """Per day of ``run``: status, people who reacted ✅ and people who got stuck."""
        return await self.tracker.stats(session, campaign, run)

    # -- reactions and privacy --------------------------------------------------

    async def on_reaction(
        self, reaction: Reaction, session: AsyncSession, services: Services
    ) -> list[Outbound] | None:
        """Count a ✅ on a tip post (see :meth:`Tracker.on_reaction`)."""
        return await self.tracker.on_reaction(reaction, session, services)

    async def on_redaction(
        self, redaction: Redaction, session: AsyncSession, services: Services
    ) -> None:
        """Take back a redacted ✅ (see :meth:`Tracker.on_redaction`)."""
        await self.tracker.on_redaction(redaction, session, services)

    async def privacy_summary(self, session: AsyncSession, user_id: str) -> str | None:
        """What tips data exists about ``user_id`` (counts only), for ``!privacy``."""
        return await self.tracker.privacy_summary(session, user_id)

    async def forget(self, session: AsyncSession, user_id: str) -> str:
        """Delete every tips mark of ``user_id``, for ``!privacy``; says what went."""
        return await self.tracker.forget(session, user_id)


def _message(body: str, room_id: str, prefix: str, key: str) -> Message:
    """A message to a room from its Markdown ``body`` (``{prefix}`` filled in)."""
    return Message(md.with_prefix(body, prefix), to=ToRoom(room_id), key=key)
