"""``owners import`` / ``owners export``: the YAML map in and out of the database.

An import is all or nothing: the whole file is parsed and checked (also against what is
stored: team names, aliases of areas the file does not mention) before anything is
written, and the writes happen in the caller's one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.ownership import repository
from bot.features.ownership.models import Area, Team
from bot.features.ownership.text import name_key
from bot.features.ownership.yamlmap import AreaSpec, MapFileError, ParsedMap, dump_map, parse_map

# Columns an import compares and writes, in the file's order (verified is handled apart).
_COLUMNS = ("name", "description", "aliases", "covers", "owners", "backups", "team", "contact")
_COLUMNS += ("security", "links")


@dataclass(frozen=True)
class Change:
    action: str  # create | update | remove
    kind: str  # area | team
    subject: str
    field: str | None = None
    old: Any = None
    new: Any = None

    def describe(self) -> str:
        if self.action == "update":
            change = f"{self.old!r} -> {self.new!r}"
            return f"update {self.kind} {self.subject!r}: {self.field}: {change}"
        if self.action == "create" and isinstance(self.new, dict):
            owners = ", ".join(self.new.get("owners") or []) or "no owner"
            return f"create area {self.subject!r} ({owners})"
        return f"{self.action} {self.kind} {self.subject!r}"


@dataclass
class ImportPlan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    applied: bool = False

    def summary(self) -> str:
        counts = {
            a: len({c.subject for c in self.changes if c.action == a})
            for a in ("create", "update", "remove")
        }
        head = (
            f"{counts['create']} to create, {counts['update']} to update, "
            f"{counts['remove']} to remove, {self.unchanged} unchanged"
        )
        return "\n".join([head, *(c.describe() for c in self.changes)])


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(0), tzinfo=UTC) if day is not None else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return list(value) if isinstance(value, tuple) else value


def _values(spec: AreaSpec) -> dict[str, Any]:
    return {c: getattr(spec, c) for c in _COLUMNS}


def _check_against_store(parsed: Any, areas: dict[str, Area], teams: set[str], prune: bool):
    problems = []
    known_teams = teams | {t.name for t in parsed.teams}
    in_file = {name_key(a.name) for a in parsed.areas}
    taken: dict[str, str] = {}
    if not prune:  # areas the file leaves alone keep their names and aliases
        for key, area in areas.items():
            if key not in in_file:
                for k in (area.name, *area.aliases):
                    taken[name_key(k)] = area.name
    for spec in parsed.areas:
        key = name_key(spec.name)
        where = f'areas entry "{spec.name}" (line {parsed.lines.get((key, ""), 0)})'
        if spec.team is not None and spec.team not in known_teams:
            problems.append(
                f"{where}, field 'team' (line {parsed.lines.get((key, 'team'), 0)}): "
                f"unknown team {spec.team!r} (add it under 'teams:')"
            )
        for k in (spec.name, *spec.aliases):
            other = taken.get(name_key(k))
            if other is not None:
                fname = "name" if k == spec.name else "aliases"
                problems.append(
                    f"{where}, field '{fname}' (line {parsed.lines.get((key, fname), 0)}): "
                    f"{k!r} already names the stored area {other!r} (not in this file)"
                )
    if problems:
        raise MapFileError(problems)


async def import_map(
    session: AsyncSession,
    text: str,
    *,
    actor: str,
    now: datetime,
    prune: bool = False,
    dry_run: bool = False,
    source: str | None = None,
) -> ImportPlan:
    """Upsert the map in ``text``; with ``dry_run`` only say what would change.

    Raises:
        MapFileError: nothing was written; each problem names entry, line and field.
    """
    parsed = parse_map(text)
    areas = {a.name_key: a for a in await repository.all_areas(session=session)}
    teams = {t.name: t for t in await repository.all_teams(session=session)}
    _check_against_store(parsed, areas, set(teams), prune)
    plan = ImportPlan()
    write = not dry_run
    _plan_teams(session, parsed, teams, plan, write=write, now=now)
    new_areas = _plan_areas(parsed, areas, plan, write=write, now=now, actor=actor, source=source)
    if prune:
        in_file = {name_key(a.name) for a in parsed.areas}
        for key, area in areas.items():
            if key not in in_file:
                old = {c: _jsonable(getattr(area, c)) for c in _COLUMNS}
                plan.changes.append(Change("remove", "area", area.name, old=old))
                if write:
                    await repository.delete_area(session=session, area=area)
    if write and plan.changes:
        await _apply(session, plan, new_areas, actor=actor, now=now)
    return plan


def _plan_teams(
    session: AsyncSession,
    parsed: ParsedMap,
    teams: dict[str, Team],
    plan: ImportPlan,
    *,
    write: bool,
    now: datetime,
) -> None:
    """Teams to create or update (written at once unless a dry run)."""
    for spec in parsed.teams:
        team = teams.get(spec.name)
        if team is None:
            plan.changes.append(Change("create", "team", spec.name, new=spec.security_champion))
            if write:
                session.add(
                    Team(name=spec.name, security_champion=spec.security_champion, updated_at=now)
                )
        elif team.security_champion != spec.security_champion:
            plan.changes.append(
                Change(
                    "update",
                    "team",
                    spec.name,
                    "security_champion",
                    team.security_champion,
                    spec.security_champion,
                )
            )
            if write:
                team.security_champion, team.updated_at = spec.security_champion, now
        else:
            plan.unchanged += 1


def _plan_areas(
    parsed: ParsedMap,
    areas: dict[str, Area],
    plan: ImportPlan,
    *,
    write: bool,
    now: datetime,
    actor: str,
    source: str | None,
) -> list[dict[str, Any]]:
    """Areas to update (in place unless a dry run); returns the new ones' rows, inserted
    in bulk by ``_apply`` (10,000 areas in one statement)."""
    new_areas: list[dict[str, Any]] = []
    for spec in parsed.areas:
        key = name_key(spec.name)
        values = _values(spec)
        verified = _midnight(spec.verified)
        area = areas.get(key)
        if area is None:
            doc = {**values, "verified": _jsonable(spec.verified)}
            plan.changes.append(Change("create", "area", spec.name, new=doc))
            new_areas.append(
                dict(
                    name_key=key,
                    last_verified=verified,
                    updated_at=now,
                    updated_by=actor,
                    verified_by=(spec.verified_by or actor) if verified else None,
                    source_file=source,
                    source_line=parsed.lines.get((key, "")),
                    **values,
                )
            )
            continue
        if write and source is not None:
            area.source_file, area.source_line = source, parsed.lines.get((key, ""))
        diffs = [(c, getattr(area, c), v) for c, v in values.items() if getattr(area, c) != v]
        if key in parsed.has_verified and area.last_verified != verified:
            diffs.append(("verified", area.last_verified, verified))
        if not diffs:
            plan.unchanged += 1
            continue
        for column, old, new in diffs:
            plan.changes.append(
                Change("update", "area", area.name, column, _jsonable(old), _jsonable(new))
            )
            if write:
                setattr(area, "last_verified" if column == "verified" else column, new)
                if column == "verified":
                    area.verified_by = spec.verified_by or actor
        if write:
            area.updated_at, area.updated_by = now, actor
    return new_areas


async def _apply(
    session: AsyncSession,
    plan: ImportPlan,
    new_areas: list[dict[str, Any]],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Insert the new areas, audit every change, bump the map's version."""
    if new_areas:
        await repository.insert_areas(session=session, rows=new_areas)
    await repository.add_audits(
        session=session,
        rows=[
            dict(
                at=now,
                actor=actor,
                source="import",
                action=c.action,
                kind=c.kind,
                subject=c.subject,
                field=c.field,
                old_value=c.old,
                new_value=c.new,
            )
            for c in plan.changes
        ],
    )
    await session.flush()
    await repository.bump_version(session=session, now=now)
    plan.applied = True


async def export_map(session: AsyncSession) -> str:
    """The stored map as YAML (the same format ``import_map`` reads)."""
    areas = await repository.all_areas(session=session)
    teams = await repository.all_teams(session=session)
    return dump_map(areas, teams)
