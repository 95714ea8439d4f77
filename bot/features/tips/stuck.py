"""Tip → help in one step: "I'm stuck on this tip" opens a no-judgement ticket.

A reply to a tip post (in its thread, or a plain reply) or ``!stuck`` (best in a DM;
``!stuck anonymous`` keeps the reporter's id out of the ticket) files a ticket through
the tickets service, tagged with the campaign and day, and counts the person as stuck
on that day (a keyed mark, see :mod:`bot.features.tips.tracking`). The ticket logic
itself stays in the tickets feature.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import date, datetime, timedelta

from bot.commands.context import CommandContext, Reply, RoomKind
from bot.commands.errors import UserError
from bot.commands.router import Router
from bot.features.tips import repository as repo
from bot.features.tips.campaigns import Campaign
from bot.features.tips.models import POSTED
from bot.features.tips.schedule import local_instant, local_today
from bot.features.tips.service import TipsService
from bot.messaging import md

log = logging.getLogger(__name__)
_ANON = ("anonymous", "anon", "anonymously")


def ticket_tags(campaign: Campaign, day: int) -> list[str]:
    """The tags a stuck ticket carries: ``tip``, the campaign, ``day-N``."""
    name = campaign.name[:32].rstrip("-") or "campaign"
    return ["tip", name, f"day-{day}"]


async def open_stuck_ticket(
    ctx: CommandContext,
    tips: TipsService,
    campaign: Campaign,
    local_date: date,
    text: str,
    *,
    anonymous: bool,
    post_id: int | None = None,
) -> Reply:
    """File the ticket through the tickets service and count the person as stuck."""
    from bot.features.act import act_of
    from bot.features.tickets.filing import file_ticket

    tip = campaign.tip_for(local_date)
    day = campaign.day_of(local_date)
    assert tip is not None and day is not None
    words = " ".join(f"#{t}" for t in ticket_tags(campaign, day))
    body = f"Stuck on {campaign.title}, day {day} ({tip.title}): {text.strip() or '(no details)'}"
    filing = f"{words}{' anonymous' if anonymous else ''} {body}"
    where = {"room_id": ctx.message.room_id, "room_kind": ctx.message.room_kind}
    reply = await file_ticket(act_of(ctx), filing, **where)
    await tips.tracker.stuck(ctx.session, campaign, local_date, ctx.sender, post_id)
    log.info("tips: stuck ticket filed for %s day %d", campaign.name, day)
    head = (
        f"Stuck on day {day} of {campaign.title} ({tip.title})? That is what we are here for. "
        f"I opened a no-judgement ticket about this tip, tagged {words}."
    )
    return dataclasses.replace(reply, text=f"{md.escape(head)}\n{reply.text}")


def latest_posted(campaign: Campaign, now: datetime) -> date | None:
    """The most recent day of ``campaign`` whose tip has gone out by ``now`` (None: none yet)."""
    today = local_today(campaign, now)
    when = today
    if now < local_instant(today, campaign.at, campaign.tz):
        when = today - timedelta(days=1)
    run = campaign.latest_started(when)
    if run is None:
        return None
    return min(when, run[1])


class StuckCommands:
    """``!stuck`` and replies to tip posts."""

    def __init__(self, tips: TipsService, prefix: str):
        self.tips = tips
        self.p = prefix

    async def stuck(self, ctx: CommandContext) -> Reply:
        """``!stuck [anonymous] [<day>] [campaign] [what is wrong]``."""
        words = ctx.args.split()
        anonymous = bool(words) and words[0].lower() in _ANON
        if anonymous:
            words = words[1:]
        number = int(words.pop(0)) if words and words[0].isdigit() else None
        campaign = self.tips.campaign(words[0]) if words else None
        if campaign is not None:
            words = words[1:]
        campaign = campaign or self._current()
        if campaign is None:
            raise UserError(
                f"There is no tip campaign running. {self.p}ticket <question> reaches the "
                "security team all the same — no judgement."
            )
        when = latest_posted(campaign, ctx.now)
        if when is None:
            raise UserError(f"{campaign.title} has not started yet.")
        if number is not None:
            run = campaign.latest_started(when)
            assert run is not None
            if not 1 <= number <= campaign.length:
                raise UserError(f"{campaign.title} has days 1 to {campaign.length}.")
            target = run[0] + timedelta(days=number - 1)
            if target > when:
                raise UserError(f"Day {number} of {campaign.title} is not out yet.")
            when = target
        return await open_stuck_ticket(
            ctx, self.tips, campaign, when, " ".join(words), anonymous=anonymous
        )

    def _current(self) -> Campaign | None:
        campaigns = self.tips.campaigns
        return campaigns[0] if len(campaigns) == 1 else self._active()

    def _active(self) -> Campaign | None:
        now = self.tips.services.clock()
        for campaign in self.tips.campaigns:
            if campaign.day_of(local_today(campaign, now)) is not None:
                return campaign
        return self.tips.campaigns[0] if self.tips.campaigns else None

    async def on_reply(self, ctx: CommandContext) -> Reply | None:
        """A person's first reply to a tip post (thread or plain reply) opens a stuck ticket."""
        msg = ctx.message
        target = msg.thread_root or msg.in_reply_to
        if target is None or msg.room_kind is RoomKind.DIRECT:
            return None
        post = await repo.post_by_event(ctx.session, event_id=target)
        if post is None or post.status != POSTED:
            return None
        campaign = self.tips.campaign(post.campaign)
        if campaign is None or campaign.tip_for(post.local_date) is None:
            return None
        if await self.tips.tracker.is_stuck(ctx.session, campaign, post.local_date, ctx.sender):
            # One ticket per person and tip from the thread: a thread is also where people
            # talk it through; their ticket continues in the DM. (!stuck always files.)
            return None
        from bot.features.tickets.parsing import strip_reply_fallback

        text = strip_reply_fallback(msg.body)
        anonymous = bool(re.match(r"^\s*anonym", text, re.IGNORECASE))
        return await open_stuck_ticket(
            ctx, self.tips, campaign, post.local_date, text, anonymous=anonymous, post_id=post.id
        )


def register(router: Router, tips: TipsService) -> None:
    """Add ``!stuck`` and the reply-to-a-tip interceptor to ``router``."""
    commands = StuckCommands(tips, router.prefix)
    router.command(
        "stuck",
        summary="Stuck on a security tip? Opens a no-judgement ticket about it",
        usage="stuck [anonymous] [<day>] [campaign] [what is in the way]",
        group="Security tips",
    )(commands.stuck)
    router.intercept("tips:stuck-reply", commands.on_reply)
