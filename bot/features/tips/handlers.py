"""``!tip`` and ``!tips``: today's tip, a day's tip, the calendar, and team tools."""

from __future__ import annotations

from datetime import date, timedelta
from functools import partial

from sqlalchemy.exc import IntegrityError

from bot.commands.context import CommandContext, Reply
from bot.commands.errors import UsageError, UserError
from bot.commands.registry import IGNORED, Arg, ArgKind
from bot.commands.router import Permission, Router
from bot.features.tips.campaigns import Campaign
from bot.features.tips.models import MISSED, POSTED, SKIPPED
from bot.features.tips.render import tip_message
from bot.features.tips.schedule import local_instant, local_today, next_slot_date
from bot.features.tips.service import TipsService
from bot.features.tips.tracking import expired_until, shown
from bot.ids import is_number
from bot.messaging import md


def _fmt(day: date) -> str:
    return day.strftime("%a %d %b %Y")


def _parse_date(word: str, today: date) -> date:
    """``2026-12-24``, ``today`` or ``tomorrow``."""
    low = word.lower()
    if low in ("today", "tomorrow"):
        return today + timedelta(days=1 if low == "tomorrow" else 0)
    try:
        return date.fromisoformat(low)
    except ValueError:
        raise UsageError(f"{md.escape(repr(word))} is not a date like 2026-12-24.") from None


def _when(campaign: Campaign) -> str:
    return f"{campaign.at.strftime('%H:%M')} {campaign.timezone}"


class TipCommands:
    """Handlers bound to one :class:`TipsService`."""

    def __init__(self, tips: TipsService, prefix: str):
        self.tips = tips
        self.p = prefix

    # -- choosing the campaign ----------------------------------------------------

    def _pick(self, ctx: CommandContext, name: str | None) -> Campaign:
        if not self.tips.campaigns:
            raise UserError("There are no tip campaigns configured right now.")
        if name:
            found = self.tips.campaign(name)
            if found is None:
                names = ", ".join(c.name for c in self.tips.campaigns)
                raise UserError(
                    f"I don't know the campaign {md.escape(repr(name))}. Campaigns: {names}."
                )
            return found
        now = ctx.now
        active = [c for c in self.tips.campaigns if c.day_of(local_today(c, now))]
        if active:
            return active[0]
        upcoming = [(next_slot_date(c, now), c) for c in self.tips.campaigns]
        dated = [(d, c) for d, c in upcoming if d is not None]
        if dated:
            return min(dated, key=lambda pair: pair[0])[1]
        return self.tips.campaigns[0]

    def _run(self, campaign: Campaign, today: date) -> tuple[date, date] | None:
        """The run a day number refers to: the current one, else the last, else the next."""
        if campaign.day_of(today):
            return campaign.current_or_next(today)
        return campaign.latest_started(today) or campaign.current_or_next(today)

    # -- !tip ---------------------------------------------------------------------

    async def tip(self, ctx: CommandContext) -> Reply:
        """``!tip``, ``!tip <day> [campaign]`` or ``!tip <campaign>`` (sub-commands aside)."""
        first, campaign = ctx.params["day_or_campaign"], ctx.params["campaign"]
        if first is None:
            return self.today(ctx)
        if is_number(first):
            return self.day(ctx, int(first), campaign)
        if campaign is None and self.tips.campaign(first):
            return self.today(ctx, first)
        raise UsageError("I didn't understand that.")

    def today(self, ctx: CommandContext, name: str | None = None) -> Reply:
        campaign = self._pick(ctx, name)
        today = local_today(campaign, ctx.now)
        tip = campaign.tip_for(today)
        if tip is not None:
            return Reply(tip_message(campaign, tip, when=today, post=False))
        nxt = next_slot_date(campaign, ctx.now)
        if nxt is None:
            raise UserError(f"{campaign.title} is over. Thanks to everyone who took part!")
        tip = campaign.tip_for(nxt)
        assert tip is not None
        intro = f"No tip today. The next one comes on {_fmt(nxt)} at {_when(campaign)}:"
        text = tip_message(campaign, tip, when=nxt, with_footer=False)
        return Reply(f"{md.escape(intro)}\n\n{text}")

    def day(self, ctx: CommandContext, number: int, name: str | None) -> Reply:
        campaign = self._pick(ctx, name)
        if not 1 <= number <= campaign.length:
            raise UserError(f"{campaign.title} has days 1 to {campaign.length}.")
        today = local_today(campaign, ctx.now)
        run = self._run(campaign, today)
        when = run[0] + timedelta(days=number - 1) if run else None
        if when is not None and when > today and not ctx.is_security_team:
            raise UserError(
                f"Day {number} of {campaign.title} comes on {_fmt(when)} — no spoilers yet. "
                f"Today's tip: `{self.p}tip`"
            )
        text = tip_message(campaign, campaign.tips[number - 1], when=when, post=False)
        return Reply(text)

    # -- !tips --------------------------------------------------------------------

    async def calendar(self, ctx: CommandContext) -> Reply:
        campaign = self._pick(ctx, ctx.params["campaign"])
        today = local_today(campaign, ctx.now)
        run = self._run(campaign, today)
        if run is None:
            raise UserError(f"{campaign.title} is over. Thanks to everyone who took part!")
        head = (
            f"{campaign.title}: {_fmt(run[0])} to {_fmt(run[1])}, "
            f"one tip a day at {_when(campaign)}"
        )
        text = [f"**{md.escape(head)}**", ""]
        for tip in campaign.tips:
            when = run[0] + timedelta(days=tip.day - 1)
            line = md.escape(f"{when.strftime('%a %d %b')} — day {tip.day}: {tip.title}")
            text.append(f"- **{line} ← today**" if when == today else f"- {line}")
        text += ["", "Read any past day with `{prefix}tip <day>`."]
        return Reply("\n".join(text))

    # -- team tools ---------------------------------------------------------------

    async def preview(self, ctx: CommandContext) -> Reply:
        campaign = self._pick(ctx, ctx.params["campaign"])
        number = ctx.params["day"]
        if not 1 <= number <= campaign.length:
            raise UserError(f"{campaign.title} has days 1 to {campaign.length}.")
        text = tip_message(campaign, campaign.tips[number - 1])
        note = f"*Preview of day {number}, exactly as it will be posted:*"
        return Reply(f"{note}\n\n{text}")

    async def skip(self, ctx: CommandContext) -> Reply:
        campaign = self._pick(ctx, ctx.params["campaign"])
        today = local_today(campaign, ctx.now)
        when = _parse_date(ctx.params["date"], today)
        if when < today:
            raise UserError(f"{_fmt(when)} is in the past; nothing to skip.")
        if campaign.day_of(when) is None:
            raise UserError(f"{campaign.title} has no tip on {_fmt(when)}.")
        if when == today and ctx.now >= local_instant(today, campaign.at, campaign.tz):
            raise UserError(f"Today's tip of {campaign.title} has already gone out.")
        try:
            async with ctx.session.begin_nested():
                rooms = await self.tips.skip(ctx.session, campaign, when, ctx.sender)
        except IntegrityError:
            raise UserError(
                f"{_fmt(when)} of {campaign.title} is already skipped or posted."
            ) from None
        if rooms == 0:
            raise UserError(f"{campaign.title} has no room I can post in.")
        return Reply(f"OK: no {campaign.title} tip on {_fmt(when)}.")

    async def unskip(self, ctx: CommandContext) -> Reply:
        campaign = self._pick(ctx, ctx.params["campaign"])
        today = local_today(campaign, ctx.now)
        when = _parse_date(ctx.params["date"], today)
        if when < today:
            raise UserError(f"{_fmt(when)} is in the past; it cannot be posted any more.")
        if not await self.tips.unskip(ctx.session, campaign, when):
            raise UserError(f"{_fmt(when)} of {campaign.title} is not skipped.")
        late = when == today and ctx.now >= local_instant(today, campaign.at, campaign.tz)
        extra = " It goes out within the catch-up window, or not today." if late else ""
        return Reply(f"OK: the {campaign.title} tip of {_fmt(when)} will be posted.{extra}")

    async def reload(self, ctx: CommandContext) -> Reply:
        if self.tips.source is None:
            raise UserError("Tips are turned off (tips.enabled).")
        change = await self.tips.reload(ctx.session)
        if change.ok:
            names = ", ".join(c.name for c in self.tips.campaigns) or "none"
            return Reply(f"Reloaded {md.escape(str(self.tips.source.path))}: campaigns {names}.")
        kept = (
            "I keep using the last good version."
            if self.tips.source.good_digest
            else "No tips are posted until it is fixed."
        )
        path = md.escape(str(self.tips.source.path))
        lines = [f"{path} has {len(change.problems)} problem(s). {kept}", ""]
        lines += [f"- {md.escape(p)}" for p in change.problems]
        return Reply("\n".join(lines))

    async def stats(self, ctx: CommandContext) -> Reply:
        campaign = self._pick(ctx, ctx.params["campaign"])
        today = local_today(campaign, ctx.now)
        run = self._run(campaign, today)
        if run is None:
            raise UserError(f"{campaign.title} has no run to report on.")
        settings = ctx.services.settings.tips
        floor = settings.min_count
        rows = await self.tips.stats(ctx.session, campaign, run)
        head = (
            f"{campaign.title} {run[0].year}: people who did it (✅) and who got stuck — "
            f'counts only, no names; under {floor} shown as "fewer than {floor}"'
        )
        if not rows:
            return Reply(f"{head}\nNothing posted yet.")
        lines = []
        for row in rows:
            label = f"{row.local_date.strftime('%d %b')} day {row.day} ({row.title})"
            if row.status == POSTED:
                lines.append(
                    f"{label}: done {shown(row.done, floor)}, stuck {shown(row.stuck, floor)}"
                )
            elif row.status == SKIPPED:
                lines.append(f"{label}: skipped")
            elif row.status == MISSED:
                lines.append(f"{label}: missed (the bot was down)")
        notes = []
        if self.tips.tracker.markers is None:
            notes.append("Counting is off: no tips.marker_key and no Matrix secret to derive one.")
        if expired_until(campaign, today, settings.keep_days) == run[1]:
            notes.append(f"The marks of this run were deleted {settings.keep_days} days after it.")
        text = [f"**{md.escape(head)}**", "", *(f"- {md.escape(line)}" for line in lines)]
        text += [f"\n{md.escape(n)}" for n in notes]
        return Reply("\n".join(text))

    async def progress(self, ctx: CommandContext) -> Reply:
        if not ctx.message.is_direct:
            raise UserError(
                f"Your progress is yours only: send `{self.p}tip progress` to me in a DM."
            )
        campaign = self._pick(ctx, ctx.params["campaign"])
        today = local_today(campaign, ctx.now)
        run = self._run(campaign, today)
        if run is None or run[0] > today:
            raise UserError(f"{campaign.title} has not started yet.")
        done = await self.tips.tracker.progress(ctx.session, campaign, run, ctx.sender)
        if done is None:
            raise UserError("Marks are not kept on this bot, so I cannot show progress.")
        last = min(today, run[1])
        days = [run[0] + timedelta(days=i) for i in range((last - run[0]).days + 1)]
        marks = " ".join("✅" if d in done else "·" for d in days)
        head = f"{campaign.title}: you marked {len(done)} of {len(days)} day(s) done so far."
        lines = [head, marks]
        lines += [
            f"{d.strftime('%d %b')} day {(d - run[0]).days + 1}: "
            f"{'done' if d in done else 'not marked'}"
            for d in days
        ]
        lines.append(
            f"Only you see this; it comes from your own ✅ reactions. Missed one? "
            f"`{self.p}tip <day>` shows it again."
        )
        return Reply("\n".join(lines))


CAMPAIGN = Arg("campaign", optional=True)


def _date(verb: str) -> Arg:
    return Arg("date", missing=f"Which date? For example: tip {verb} 2026-12-24")


def register(router: Router, tips: TipsService) -> None:
    """Add ``!tip`` (with its sub-commands) and ``!tips`` to ``router``."""
    commands = TipCommands(tips, router.prefix)
    team = Permission.SECURITY_TEAM
    router.command(
        "tip",
        summary="Today's security tip (or: tip <day> to read a past day)",
        usage="tip [<day>] [campaign]",
        group="Security tips",
        args=(Arg("day_or_campaign", optional=True), CAMPAIGN),
        extra=IGNORED,
    )(commands.tip)
    sub = partial(router.subcommand, "tip")
    sub("progress", summary="Your own progress (in a DM)", args=(CAMPAIGN,))(commands.progress)
    which_day = "Which day? For example: tip preview 5"
    day = Arg("day", ArgKind.NUMBER, missing=which_day, invalid=which_day)
    preview = "A day's tip exactly as it will be posted"
    sub("preview", summary=preview, args=(day, CAMPAIGN), permission=team)(commands.preview)
    skip = "Post no tip on a date"
    sub("skip", summary=skip, args=(_date("skip"), CAMPAIGN), permission=team)(commands.skip)
    unskip, args = "Post the tip of a skipped date after all", (_date("unskip"), CAMPAIGN)
    sub("unskip", summary=unskip, args=args, permission=team)(commands.unskip)
    stats = "Done/stuck counts of the current run (no names)"
    sub("stats", summary=stats, args=(CAMPAIGN,), permission=team)(commands.stats)
    reload = "Read the tips file again"
    sub("reload", summary=reload, permission=team)(commands.reload)
    router.command(
        "tips",
        summary="The calendar of the current (or next) tip campaign",
        usage="tips [campaign]",
        group="Security tips",
        args=(CAMPAIGN,),
        extra=IGNORED,
    )(commands.calendar)
