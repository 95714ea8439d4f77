"""The map's logic: the cached index, look-ups, chat edits (audited), listings and gaps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.errors import UserError
from bot.features.ownership import asking, repository
from bot.features.ownership.accounts import AccountChecker
from bot.features.ownership.matching import AreaView, MapIndex, SearchResult, name_key
from bot.features.ownership.models import Area
from bot.features.ownership.oncall import on_call_now
from bot.features.ownership.settings import OwnershipSettings
from bot.messaging import md

if TYPE_CHECKING:
    from bot.services import Services


def view_of(area: Area) -> AreaView:
    """A detached, immutable copy of an area row."""
    return AreaView(
        id=area.id,
        name=area.name,
        description=area.description or "",
        aliases=tuple(area.aliases or ()),
        team=area.team,
        owners=tuple(area.owners or ()),
        backups=tuple(area.backups or ()),
        contact=area.contact or "",
        security=bool(area.security),
        links=tuple(area.links or ()),
        last_verified=area.last_verified,
        covers=tuple(area.covers or ()),
        verified_by=area.verified_by,
        source=f"{area.source_file}:{area.source_line}" if area.source_file else None,
    )


@dataclass(frozen=True)
class Snapshot:
    """The map as one process sees it: the index plus the teams' champions."""

    version: str | None
    index: MapIndex
    champions: dict[str, str | None]


@dataclass(frozen=True)
class Gap:
    area: AreaView
    problems: tuple[str, ...]


# Seconds between two reads of the map's version token (see OwnershipService.snapshot).
VERSION_TTL = 1.0


class OwnershipService:
    """Keeps one in-memory index per process, rebuilt when the map's version changes.

    Every question costs one key look-up (the version token) instead of a scan of the
    map; the token changes with every import and chat edit, in any process.
    """

    def __init__(self, settings: OwnershipSettings, services: Services | None = None):
        self.settings = settings
        self.services = services
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0  # time.monotonic() of the last version check
        # Owners whose Matrix account is deactivated: stale at once (see ``accounts``).
        self.deactivated: set[str] = set()
        self.accounts = _account_checker(services)

    async def snapshot(self, session: AsyncSession) -> Snapshot:
        """The current map, rebuilt only if it changed since the last call.

        The version token is read at most once per ``VERSION_TTL`` (a busy helpdesk
        asks one key look-up a second, not one per question): a change made by another
        process (an import, another replica) shows within that time; a change made
        through this service shows at once (``invalidate``).

        The index is built in a worker thread (``asyncio.to_thread``): a map of 10,000
        areas takes seconds to index, and other rooms must not wait for it.
        """
        checked = time.monotonic()
        if self._snapshot is not None and checked - self._checked_at < VERSION_TTL:
            return self._snapshot
        version = await repository.map_version(session=session)
        self._checked_at = checked
        if self._snapshot is None or self._snapshot.version != version:
            areas = [view_of(a) for a in await repository.all_areas(session=session)]
            teams = await repository.all_teams(session=session)
            index = await asyncio.to_thread(
                MapIndex.build, areas, threshold=self.settings.min_confidence
            )
            self._snapshot = Snapshot(version, index, {t.name: t.security_champion for t in teams})
        return self._snapshot

    def invalidate(self) -> None:
        """Read the version token again on the next question (after a change here)."""
        self._checked_at = 0.0

    async def lookup(
        self, session: AsyncSession, question: str | asking.Question
    ) -> tuple[SearchResult, Snapshot]:
        """Search the map for ``question`` (a look-up text or a recognised question)."""
        snap = await self.snapshot(session)
        if isinstance(question, str):
            question = asking.of_command(question)
        result = asking.search(snap.index, question)
        if result.kind == "answer" and result.best is not None:
            await self.check_accounts(result.best.area.owners)
        return result, snap

    async def check_accounts(self, user_ids: Iterable[str]) -> None:
        """Ask the homeserver (cached) whether these owners' accounts are deactivated."""
        if self.accounts is None:
            return
        for user_id, gone in (await self.accounts.check(user_ids)).items():
            if gone:
                self.deactivated.add(user_id)
            else:
                self.deactivated.discard(user_id)

    async def record_miss(self, session: AsyncSession, result: SearchResult, now: datetime) -> None:
        """Remember a fallback or "which one?": the subject words only, never who asked."""
        if not self.settings.record_misses or not result.query_words:
            return
        near = result.near_misses[0].area.name if result.near_misses else None
        if result.kind == "ambiguous" and result.matches:
            near = result.matches[0].area.name
        subject = " ".join(result.query_words)[:300]
        kind = "ambiguous" if result.kind == "ambiguous" else "fallback"
        await repository.add_miss(session=session, at=now, subject=subject, kind=kind, near=near)

    def stale_reason(self, view: AreaView, now: datetime) -> str | None:
        """Why the owner of ``view`` cannot be trusted blindly (None: they can)."""
        if not view.owners:
            return "no owner is recorded"
        gone = [o for o in view.owners if o in self.deactivated]
        if gone and len(gone) == len(view.owners):
            return f"the owner's account ({', '.join(gone)}) is deactivated"
        if view.last_verified is None:
            return "the owner was never verified"
        limit = timedelta(days=self.settings.stale_after_days)
        if now - view.last_verified > limit:
            when = f"{view.last_verified:%Y-%m-%d}"
            return f"the owner was last verified {when}, over {limit.days} days ago"
        return None

    def on_call(self, now: datetime) -> list[str]:
        """Who is on call now for a security matter."""
        return on_call_now(self.services, now)

    # -- edits (security team; the handlers check permission) ----------------------------

    async def _area(self, session: AsyncSession, ref: str) -> Area:
        """The area named exactly ``ref`` (name or alias, any case); edits never guess."""
        snap = await self.snapshot(session)
        view = snap.index.area_by_key(ref)
        area = await session.get(Area, view.id) if view is not None else None
        if area is None:
            raise UserError(
                f"There is no area called {md.escape(repr(ref))}. Use its exact name or an "
                "alias (see `{prefix}owners`), in quotes if it has spaces.",
            )
        return area

    async def _change(
        self, session: AsyncSession, area: Area, column: str, new: Any, actor: str, now: datetime
    ) -> Any:
        old = getattr(area, column)
        setattr(area, column, new)
        area.updated_at, area.updated_by = now, actor
        await repository.add_audit(
            session=session,
            at=now,
            actor=actor,
            source="chat",
            action="update",
            kind="area",
            subject=area.name,
            field="verified" if column == "last_verified" else column,
            old=old.isoformat() if isinstance(old, datetime) else old,
            new=new.isoformat() if isinstance(new, datetime) else new,
        )
        await session.flush()
        await repository.bump_version(session=session, now=now)
        self.invalidate()
        return old

    async def edit(
        self, session: AsyncSession, ref: str, column: str, value: Any, *, actor: str, now: datetime
    ) -> tuple[Area, Any]:
        """Set one column of the area ``ref``; returns the area and the old value."""
        area = await self._area(session, ref)
        if column == "aliases":
            alias = str(value).strip()
            other = (await self.snapshot(session)).index.area_by_key(alias)
            if other is not None:
                raise UserError(md.escape(f"{alias!r} already names the area {other.name!r}."))
            value = [*area.aliases, alias]
        old = await self._change(session, area, column, value, actor, now)
        return area, old

    async def remove(self, session: AsyncSession, ref: str, *, actor: str, now: datetime) -> str:
        area = await self._area(session, ref)
        name = area.name
        old = {
            "name": name,
            "owners": list(area.owners),
            "backups": list(area.backups),
            "team": area.team,
            "aliases": list(area.aliases),
        }
        await repository.delete_area(session=session, area=area)
        await repository.add_audit(
            session=session, at=now, actor=actor, source="chat", action="remove",
            kind="area", subject=name, old=old,
        )  # fmt: skip
        await session.flush()
        await repository.bump_version(session=session, now=now)
        self.invalidate()
        return name

    async def resolve_name(self, session: AsyncSession, ref: str) -> str | None:
        """The exact area name ``ref`` refers to (name or alias), if any."""
        view = (await self.snapshot(session)).index.area_by_key(ref)
        return view.name if view is not None else None

    async def known_keys(self, session: AsyncSession) -> set[str]:
        """Every name and alias (as keys), for splitting "<area> <text>" arguments."""
        return set((await self.snapshot(session)).index.by_key)

    # -- listings --------------------------------------------------------------------

    async def areas(self, session: AsyncSession, team: str | None = None) -> list[AreaView]:
        """The areas (of ``team``, any case, when given), sorted by name."""
        return _sorted_views(await self.snapshot(session), team)

    async def gaps(self, session: AsyncSession, now: datetime) -> list[Gap]:
        """Areas with no owner, no backup, or not verified within ``stale_after_days``."""
        stale_before = now - timedelta(days=self.settings.stale_after_days)
        snap = await self.snapshot(session)
        await self.check_accounts(o for e in snap.index.entries for o in e.area.owners)
        found = []
        for view in _sorted_views(snap, None):
            problems = []
            if not view.owners:
                problems.append("no owner")
            gone = [o for o in view.owners if o in self.deactivated]
            if gone:
                problems.append(f"owner account deactivated ({', '.join(gone)})")
            if not view.backups:
                problems.append("no backup")
            if view.last_verified is None:
                problems.append("never verified")
            elif view.last_verified < stale_before:
                problems.append(f"last verified {view.last_verified:%Y-%m-%d}")
            if view.team is not None and not snap.champions.get(view.team):
                problems.append(f"team {view.team} has no security champion")
            if problems:
                found.append(Gap(view, tuple(problems)))
        return found


def _account_checker(services: Services | None) -> AccountChecker | None:
    """The deactivation check, when a token that may use the admin API is configured."""
    if services is None:
        return None
    matrix, own = services.settings.matrix, services.settings.ownership
    secret = own.admin_token or matrix.access_token
    if secret is None:
        return None
    name = "ownership.admin_token" if own.admin_token else "matrix.access_token"
    server_name = str(matrix.user_id).partition(":")[2]
    ttl = own.account_check_every.total_seconds()
    token = secret.get_secret_value()
    return AccountChecker(matrix.homeserver, token, server_name, ttl, token_name=name)


def _sorted_views(snap: Snapshot, team: str | None) -> list[AreaView]:
    views = [e.area for e in snap.index.entries]
    if team is not None:
        views = [v for v in views if v.team is not None and name_key(v.team) == name_key(team)]
    return sorted(views, key=lambda v: name_key(v.name))
