"""The values of a campaign file that need more than a type check: dates, times, zones."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_YEARLY = re.compile(r"^(\d{2})-(\d{2})$")
_ONCE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
# A leap year is not needed: yearly campaigns may not include 29 February.
_REF_YEAR = 2001


def parse_date(value: Any) -> tuple[date | None, bool | None]:
    """``MM-DD`` (yearly) or ``YYYY-MM-DD`` (once) -> (date, yearly)."""
    if isinstance(value, date):
        return value, False
    text = str(value).strip()
    try:
        if _YEARLY.match(text):
            month, day = (int(p) for p in text.split("-"))
            return date(_REF_YEAR, month, day), True
        if _ONCE.match(text):
            return date.fromisoformat(text), False
    except ValueError:
        return None, None
    return None, None


def parse_time(value: Any) -> time | None:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 09:00 unquoted as a sexagesimal integer (540).
        value = f"{value // 60}:{value % 60:02d}"
    match = _TIME.match(str(value).strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def check_tz(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value.strip()
