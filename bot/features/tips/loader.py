"""Parse and validate ``config/tips.yaml`` into :class:`Campaign` objects.

Validation collects *every* problem with its place (``campaigns[0] security-month: day 7
(07 December) is missing (line 12)``) instead of stopping at the first one, so the
security team can fix a file in one go. Nothing here touches the database or Matrix.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bot.features.tips.campaigns import Campaign, Tip
from bot.features.tips.values import check_tz, parse_date, parse_time
from bot.paths import resolve_data_file
from bot.yamlio import YamlDocument, YamlSyntaxError, parse_yaml

MAX_TITLE = 120
MAX_BODY = 2000
MAX_TIPS = 366
ROOM_KEYWORDS = ("helpdesk", "triage")

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ROOM = re.compile(r"^[#!][^:\s]+:\S+$")
_LINK = re.compile(r"^https?://[^\s<>\"]+$")
_CAMPAIGN_KEYS = {"name", "title", "start", "end", "time", "timezone", "rooms", "tips"}
_TIP_KEYS = {"day", "title", "body", "link"}


class CampaignFileError(Exception):
    """The campaigns file has problems; ``problems`` names each one with its place."""

    def __init__(self, problems: list[str], source: str):
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: {len(problems)} problem(s)")


class _Problems:
    """Every problem found, each with the line of its place (or the nearest around it)."""

    def __init__(self, doc: YamlDocument):
        self.doc = doc
        self.items: list[str] = []

    def add(self, path: tuple[Any, ...], where: str, message: str) -> None:
        line = self.doc.line(path)
        suffix = f" (line {line})" if line else ""
        self.items.append(f"{where}: {message}{suffix}")


# -- parsing ----------------------------------------------------------------------


def _parse_tip(raw: Any, path: tuple[Any, ...], where: str, p: _Problems) -> Tip | None:
    if not isinstance(raw, dict):
        p.add(path, where, "each tip must be a mapping with day, title, body")
        return None
    for key in sorted(set(raw) - _TIP_KEYS, key=str):
        p.add((*path, key), where, f"unknown key {key!r} (allowed: day, title, body, link)")
    day = raw.get("day")
    ok = True
    if not isinstance(day, int) or isinstance(day, bool) or day < 1:
        p.add((*path, "day"), where, "day must be a whole number from 1")
        ok = False
    title, body, link = raw.get("title"), raw.get("body"), raw.get("link")
    if not isinstance(title, str) or not title.strip():
        p.add((*path, "title"), where, "title is missing")
        ok = False
    elif len(title.strip()) > MAX_TITLE:
        p.add(
            (*path, "title"), where, f"title is {len(title.strip())} characters (max {MAX_TITLE})"
        )
        ok = False
    if not isinstance(body, str) or not body.strip():
        p.add((*path, "body"), where, "body is missing")
        ok = False
    elif len(body.strip()) > MAX_BODY:
        p.add((*path, "body"), where, f"body is {len(body.strip())} characters (max {MAX_BODY})")
        ok = False
    if link is not None and (not isinstance(link, str) or not _LINK.match(link.strip())):
        p.add((*path, "link"), where, "link must be an http(s) URL")
        ok = False
    if not ok:
        return None
    return Tip(day, title.strip(), body.strip(), link.strip() if link else None)


def _parse_span(
    raw: dict[Any, Any], path: tuple[Any, ...], where: str, p: _Problems
) -> tuple[date | None, date | None, bool]:
    """The campaign's first and last day and whether it repeats every year."""
    start, start_yearly = parse_date(raw.get("start"))
    end, end_yearly = parse_date(raw.get("end"))
    if start is None:
        p.add((*path, "start"), where, "start must be MM-DD (every year) or YYYY-MM-DD (once)")
    if end is None:
        p.add((*path, "end"), where, "end must be MM-DD (every year) or YYYY-MM-DD (once)")
    yearly = bool(start_yearly)
    if start and end:
        if start_yearly != end_yearly:
            p.add((*path, "end"), where, "start and end must both be MM-DD or both YYYY-MM-DD")
        elif end < start:
            p.add((*path, "end"), where, "end is before start (a yearly run cannot span new year)")
        elif yearly and (start.month, start.day) <= (2, 29) <= (end.month, end.day):
            p.add((*path, "end"), where, "a yearly campaign cannot include 29 February")
        elif (end - start).days + 1 > MAX_TIPS:
            p.add((*path, "end"), where, f"a campaign lasts at most {MAX_TIPS} days")
    return start, end, yearly


def _parse_rooms(raw: dict[Any, Any], path: tuple[Any, ...], where: str, p: _Problems) -> list:
    rooms = raw.get("rooms", ["helpdesk"])
    if not isinstance(rooms, list) or not rooms:
        p.add((*path, "rooms"), where, "rooms must be a non-empty list")
        return []
    for j, room in enumerate(rooms):
        if not isinstance(room, str) or not (room in ROOM_KEYWORDS or _ROOM.match(room)):
            p.add(
                (*path, "rooms", j),
                where,
                f"room {room!r} must be helpdesk, triage, a #alias:server or a !id:server",
            )
    return rooms


def _parse_tips(
    raw: dict[Any, Any], path: tuple[Any, ...], where: str, p: _Problems
) -> tuple[dict[int, Tip], set[int], bool]:
    """The valid tips by day, every day named (valid or not), and whether any were given."""
    raw_tips = raw.get("tips")
    tips: dict[int, Tip] = {}
    if not isinstance(raw_tips, list) or not raw_tips:
        p.add((*path, "tips"), where, "tips must be a non-empty list")
        raw_tips = []
    days_seen: set[int] = set()  # from every entry, valid or not, so problems are not doubled
    for j, raw_tip in enumerate(raw_tips):
        tip_where = f"{where} tips[{j}]"
        day = raw_tip.get("day") if isinstance(raw_tip, dict) else None
        if isinstance(day, int) and not isinstance(day, bool):
            tip_where = f"{where} day {day}"
            if day in days_seen:
                p.add((*path, "tips", j, "day"), tip_where, "this day appears twice")
            days_seen.add(day)
        tip = _parse_tip(raw_tip, (*path, "tips", j), tip_where, p)
        if tip is not None:
            tips[tip.day] = tip
    return tips, days_seen, bool(raw_tips)


def _check_days(
    start: date, end: date, yearly: bool, days_seen: set[int], path: tuple[Any, ...],
    where: str, p: _Problems,
) -> None:  # fmt: skip
    """Every day of the run has a tip, and no tip is for a day after it."""
    length = (end - start).days + 1
    for day in range(1, length + 1):
        if day not in days_seen:
            when = start + timedelta(days=day - 1)
            label = when.strftime("%d %B") if yearly else when.isoformat()
            p.add((*path, "tips"), where, f"day {day} ({label}) is missing")
    for day in sorted(d for d in days_seen if d > length):
        p.add((*path, "tips"), where, f"day {day} is after the last day ({length})")


def _parse_campaign(raw: Any, i: int, p: _Problems) -> Campaign | None:
    path: tuple[Any, ...] = ("campaigns", i)
    name = raw.get("name") if isinstance(raw, dict) else None
    where = f"campaigns[{i}]" + (f" {name}" if isinstance(name, str) else "")
    if not isinstance(raw, dict):
        p.add(path, where, "a campaign must be a mapping")
        return None
    before = len(p.items)
    for key in sorted(set(raw) - _CAMPAIGN_KEYS, key=str):
        p.add((*path, key), where, f"unknown key {key!r}")
    if not isinstance(name, str) or not _NAME.match(name):
        p.add((*path, "name"), where, "name must be lower-case letters, digits and dashes")
    title = raw.get("title", name)
    if not isinstance(title, str) or not title.strip():
        p.add((*path, "title"), where, "title must be text")
    start, end, yearly = _parse_span(raw, path, where, p)
    at = parse_time(raw.get("time"))
    if at is None:
        p.add((*path, "time"), where, 'time must be a local time like "09:00"')
    tz = check_tz(raw.get("timezone"))
    if tz is None:
        p.add(
            (*path, "timezone"),
            where,
            f"{raw.get('timezone')!r} is not an IANA time zone (like Europe/Berlin)",
        )
    rooms = _parse_rooms(raw, path, where, p)
    tips, days_seen, any_tips = _parse_tips(raw, path, where, p)
    if start and end and end >= start and any_tips:
        _check_days(start, end, yearly, days_seen, path, where, p)
    if len(p.items) > before:
        return None
    assert start and end and at and tz and isinstance(name, str)
    return Campaign(
        name=name,
        title=str(title).strip(),
        start=start,
        end=end,
        yearly=yearly,
        at=at,
        timezone=tz,
        rooms=tuple(rooms),
        tips=tuple(tips[d] for d in sorted(tips)),
    )


def parse_campaigns(text: str, source: str = "tips file") -> list[Campaign]:
    """Parse and validate a campaigns document.

    Returns:
        The campaigns, in file order.

    Raises:
        CampaignFileError: with every problem found, each with its place.
    """
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise CampaignFileError([str(exc)], source) from None
    data = doc.data
    p = _Problems(doc)
    if not isinstance(data, dict) or not isinstance(data.get("campaigns"), list):
        raise CampaignFileError(["the file must have a top-level 'campaigns:' list"], source)
    for key in sorted(set(data) - {"campaigns"}, key=str):
        p.add((key,), "top level", f"unknown key {key!r}")
    campaigns: list[Campaign] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["campaigns"]):
        campaign = _parse_campaign(raw, i, p)
        if campaign is None:
            continue
        if campaign.name in seen:
            p.add(
                ("campaigns", i, "name"), f"campaigns[{i}]", f"name {campaign.name!r} is used twice"
            )
        seen.add(campaign.name)
        campaigns.append(campaign)
    if p.items:
        raise CampaignFileError(p.items, source)
    return campaigns


def load_campaigns(path: Path) -> list[Campaign]:
    """Read and validate the campaigns file at ``path``.

    Raises:
        CampaignFileError: the file is missing, unreadable or has problems.
    """
    path = resolve_data_file(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CampaignFileError([f"{path} does not exist"], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignFileError(
            [f"{path} cannot be read ({type(exc).__name__})"], str(path)
        ) from None
    return parse_campaigns(text, str(path))
