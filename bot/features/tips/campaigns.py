"""Campaigns as data: a series of daily tips, and which day of it a date is.

Parsing and validation of ``config/tips.yaml`` live in :mod:`bot.features.tips.loader`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Tip:
    day: int
    title: str
    body: str  # Markdown
    link: str | None = None


@dataclass(frozen=True)
class Campaign:
    """A series of daily tips. ``yearly`` campaigns repeat every year on the same dates."""

    name: str
    title: str
    start: date  # for yearly campaigns, the year is a placeholder
    end: date
    yearly: bool
    at: time
    timezone: str
    rooms: tuple[str, ...]
    tips: tuple[Tip, ...]  # sorted by day, one per day of the campaign

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    def occurrence(self, year: int) -> tuple[date, date] | None:
        """First and last date of the run touching ``year`` (None if none does)."""
        if not self.yearly:
            # A one-off run may span a new year.
            return (self.start, self.end) if self.start.year <= year <= self.end.year else None
        return self.start.replace(year=year), self.end.replace(year=year)

    def day_of(self, local_date: date) -> int | None:
        """Which day (1-based) of the campaign ``local_date`` is, or None outside it."""
        run = self.occurrence(local_date.year)
        if run is None or not run[0] <= local_date <= run[1]:
            return None
        return (local_date - run[0]).days + 1

    def tip_for(self, local_date: date) -> Tip | None:
        day = self.day_of(local_date)
        return self.tips[day - 1] if day is not None else None

    def current_or_next(self, today: date) -> tuple[date, date] | None:
        """The run containing ``today``, else the next one (None when all are over)."""
        for year in (today.year, today.year + 1):
            run = self.occurrence(year)
            if run is not None and run[1] >= today:
                return run
        return None

    def latest_started(self, today: date) -> tuple[date, date] | None:
        """The most recent run that has begun by ``today``."""
        for year in (today.year, today.year - 1):
            run = self.occurrence(year)
            if run is not None and run[0] <= today:
                return run
        return None
