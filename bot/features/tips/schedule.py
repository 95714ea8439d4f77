"""The scheduling decision, as a pure function: campaigns + now + what was claimed -> posts.

Everything about time lives here so it can be tested without a database or a homeserver:
local days in the campaign's time zone, DST (via zoneinfo), the catch-up window.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.features.tips.campaigns import Campaign, Tip

# (campaign name, local date, room id): the key that is posted at most once.
SlotKey = tuple[str, date, str]


@dataclass(frozen=True)
class Slot:
    """One campaign's tip for one local date in one room."""

    campaign: Campaign
    local_date: date
    room_id: str
    day: int
    tip: Tip
    scheduled: datetime  # aware UTC

    @property
    def key(self) -> SlotKey:
        return (self.campaign.name, self.local_date, self.room_id)

    @property
    def txn_key(self) -> str:
        return f"tip:{self.campaign.name}:{self.local_date.isoformat()}:{self.room_id}"


@dataclass(frozen=True)
class Plan:
    due: list[Slot]  # post now
    missed: list[Slot]  # past the catch-up window today: record and log, never post


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz``.

    On a spring-forward day a time inside the gap (e.g. 02:30) does not exist; it is
    moved forward by the gap (03:30), as clocks do. On a fall-back day a repeated time
    means its first occurrence (fold=0).
    """
    # fold=0 picks the offset in force before a change: for a repeated time that is its
    # first occurrence, and for a time inside a gap it lands just after the gap in UTC.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def local_today(campaign: Campaign, now: datetime) -> date:
    """The date it is now where the campaign is posted."""
    return now.astimezone(campaign.tz).date()


def slot_for(campaign: Campaign, local_date: date, room_id: str) -> Slot | None:
    """The slot of ``campaign`` on ``local_date`` (None outside the campaign)."""
    day = campaign.day_of(local_date)
    if day is None:
        return None
    return Slot(
        campaign=campaign,
        local_date=local_date,
        room_id=room_id,
        day=day,
        tip=campaign.tips[day - 1],
        scheduled=local_instant(local_date, campaign.at, campaign.tz),
    )


def campaign_rooms(campaign: Campaign, resolve_room: Callable[[str], str | None]) -> list[str]:
    """The room ids of ``campaign``'s room entries, in order, once each (unknown ones left out)."""
    rooms: list[str] = []
    for ref in campaign.rooms:
        room_id = resolve_room(ref)
        if room_id is not None and room_id not in rooms:
            rooms.append(room_id)
    return rooms


def plan_posts(
    campaigns: Collection[Campaign],
    now: datetime,
    claimed: Collection[SlotKey],
    catch_up: timedelta,
    resolve_room: Callable[[str], str | None],
) -> Plan:
    """Decide which tips to post right now.

    Only the campaign's *current local day* is ever considered, so a bot that was down
    for days never bursts out old tips: yesterday's tip is simply gone.

    Args:
        campaigns: the validated campaigns.
        now: aware current time.
        claimed: slots already posted, skipped or recorded as missed.
        catch_up: how long after the posting time a late start may still post.
        resolve_room: maps a campaign room entry to a room id (None: unknown now).

    Returns:
        The slots due now and those missed today (past the window, never claimed).
    """
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    claimed = set(claimed)
    due: list[Slot] = []
    missed: list[Slot] = []
    for campaign in campaigns:
        today = local_today(campaign, now)
        for room_id in campaign_rooms(campaign, resolve_room):
            slot = slot_for(campaign, today, room_id)
            if slot is None or slot.key in claimed or now < slot.scheduled:
                continue
            (due if now <= slot.scheduled + catch_up else missed).append(slot)
    return Plan(due, missed)


def next_slot_date(campaign: Campaign, now: datetime) -> date | None:
    """The local date of the campaign's next post not yet due (today if still ahead)."""
    today = local_today(campaign, now)
    run = campaign.current_or_next(today)
    if run is None:
        return None
    first = max(run[0], today)
    if first == today and now >= local_instant(today, campaign.at, campaign.tz):
        first = today + timedelta(days=1)
        if first > run[1]:
            nxt = campaign.current_or_next(first)
            return nxt[0] if nxt else None
    return first
