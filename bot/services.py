"""What the app hands to features: config, database, clock, scheduler, outbox, directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.clock import Clock, system_clock

if TYPE_CHECKING:
    from bot.limits import Limits
    from bot.outbox import Outbox
    from bot.scheduler import Scheduler
    from bot.settings import Settings
    from bot.storage import Database


class Directory(Protocol):
    """Who is in which room, as the Matrix layer knows it."""

    def joined_members(self, room_id: str) -> set[str]:
        """User ids joined to ``room_id`` (empty when unknown)."""
        ...


class StaticDirectory:
    """A directory with fixed members, for tests and CLI use."""

    def __init__(self, members: dict[str, set[str]] | None = None):
        self.members = members or {}

    def joined_members(self, room_id: str) -> set[str]:
        return set(self.members.get(room_id, set()))


@dataclass
class RoomIds:
    """Room ids resolved from the configured aliases at start."""

    helpdesk: str | None = None
    triage: str | None = None


@dataclass
class Services:
    settings: Settings
    db: Database
    outbox: Outbox
    scheduler: Scheduler
    directory: Directory = field(default_factory=StaticDirectory)
    rooms: RoomIds = field(default_factory=RoomIds)
    clock: Clock = system_clock
    _limits: Limits | None = field(default=None, repr=False)

    @property
    def limits(self) -> Limits:
        """The abuse limits (token buckets), made from ``settings.limits`` on first use."""
        if self._limits is None:
            from bot.limits import Limits

            self._limits = Limits(self.settings.limits, self.clock)
        return self._limits

    def rate_limit(self, bucket_name: str, key: str) -> None:
        """Count one action of ``key`` in the named bucket ("tickets", "incidents"...).

        Raises:
            RateLimited: over the limit (silent after the one notice).
        """
        from bot.commands.errors import RateLimited
        from bot.limits import LIMIT_NOTICE, Verdict

        verdict = self.limits.check(getattr(self.limits, bucket_name), key)
        if verdict is not Verdict.OK:
            raise RateLimited(LIMIT_NOTICE, silent=verdict is Verdict.SILENT)

    @property
    def bot_user_id(self) -> str:
        return self.settings.matrix.user_id

    def security_team(self) -> set[str]:
        """Configured team members plus everyone joined to the triage room (not the bot)."""
        team = set(self.settings.security_team)
        if self.rooms.triage:
            team |= self.directory.joined_members(self.rooms.triage)
        team.discard(self.bot_user_id)
        return team

    def is_security_team(self, user_id: str) -> bool:
        """Whether ``user_id`` may run security-team commands."""
        return user_id in self.security_team()
