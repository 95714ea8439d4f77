"""The YAML interchange format kept in git: parsing with line numbers, and writing back.

Every problem is reported with the entry (its position and name), the line and the
field, e.g. ``areas entry 3 "Release signing" (line 12), field 'owners' (line 15): ...``.
Parsing never touches the database; cross-checks against stored data are the service's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator
from pydantic_core import ErrorDetails

from bot.features.ownership.text import name_key
from bot.ids import check_user_ids
from bot.yamlio import YamlDocument, YamlSyntaxError, friendly, parse_yaml

_URL = re.compile(r"^https?://\S+$")
AREA_FIELDS = (
    "name description aliases covers owners backups team contact security links verified "
    "verified_by"
).split()


class AreaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    aliases: list[str] = Field(default_factory=list)
    # Situations and verbs the area answers for: "clicked a link", "lost", "leaked".
    covers: list[str] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    backups: list[str] = Field(default_factory=list)
    team: str | None = Field(None, max_length=100)
    contact: str = ""
    security: StrictBool = False
    links: list[str] = Field(default_factory=list)
    verified: date | None = None
    verified_by: str | None = Field(None, max_length=255)

    @field_validator("owners", "backups")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        return check_user_ids(value)

    @field_validator("links")
    @classmethod
    def _links(cls, value: list[str]) -> list[str]:
        for link in value:
            if not _URL.match(link):
                raise ValueError(f"{link!r} is not an http(s) link")
        return value

    @field_validator("aliases", "covers")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        if any(not a.strip() for a in value):
            raise ValueError("an entry is empty")
        return [a.strip() for a in value]


class TeamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100)
    security_champion: str | None = None

    @field_validator("security_champion")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        return None if value is None else check_user_ids([value])[0]


@dataclass
class ParsedMap:
    areas: list[AreaSpec] = field(default_factory=list)
    teams: list[TeamSpec] = field(default_factory=list)
    # Which areas set "verified" explicitly (absent: keep the stored date).
    has_verified: set[str] = field(default_factory=set)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)  # (name_key, field)


class MapFileError(Exception):
    """The file is not a valid map; ``problems`` each name entry, line and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))

    def __str__(self) -> str:
        return "\n".join(
            ["the map file has errors (nothing was changed):"] + [f"  - {p}" for p in self.problems]
        )


def _where(section: str, i: int, name: object, line: int | None) -> str:
    label = f' "{name}"' if isinstance(name, str) and name else ""
    return f"{section} entry {i + 1}{label} (line {line or 0})"


def _field_line(doc: YamlDocument, entry: tuple[str, int], loc: tuple[Any, ...]) -> str:
    """`` (line N)`` of the field at ``loc`` (its item when ``loc`` names one); "" if absent."""
    if not loc or doc.line((*entry, loc[0]), exact=True) is None:
        return ""
    depth = 2 if len(loc) > 1 and isinstance(loc[1], int) else 1
    line = doc.line((*entry, *loc[:depth]), exact=True) or doc.line((*entry, loc[0]))
    return f" (line {line})"


def _describe(where: str, doc: YamlDocument, entry: tuple[str, int], error: ErrorDetails) -> str:
    loc = tuple(error["loc"])
    name = str(loc[0]) if loc else "?"
    if len(loc) > 1 and isinstance(loc[1], int):
        name += f" item {loc[1] + 1}"
    msg = friendly(error, unknown=f"unknown field (known: {', '.join(AREA_FIELDS)})")
    if error["type"] == "missing":
        msg = "required field is missing"
    return f"{where}, field '{name}'{_field_line(doc, entry, loc)}: {msg}"


def parse_map(text: str) -> ParsedMap:
    """Parse and validate a map file.

    Raises:
        MapFileError: listing every problem found (entry, line, field).
    """
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        raise MapFileError([f"not valid YAML{exc.where(column=False)}: {exc.problem}"]) from None
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise MapFileError(["the file must be a mapping with 'areas' and 'teams' lists"])
    top = doc.key_lines()
    problems = [
        f"unknown top-level key {key!r} (line {top.get(str(key), 0)}): use 'areas' and 'teams'"
        for key in data
        if key not in ("areas", "teams")
    ]
    parsed = ParsedMap()
    for section in ("teams", "areas"):
        items = data.get(section) or []
        if not isinstance(items, list):
            line = doc.line((section,), exact=True) or 0
            problems.append(f"'{section}' (line {line}) must be a list of entries")
            continue
        problems += _parse_section(doc, section, items, parsed)
    problems += _alias_conflicts(parsed)
    if problems:
        raise MapFileError(problems)
    return parsed


def _parse_section(
    doc: YamlDocument, section: str, items: list[Any], parsed: ParsedMap
) -> list[str]:
    """Validate the entries of ``section`` into ``parsed``; the problems found."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    model = AreaSpec if section == "areas" else TeamSpec
    for i, item in enumerate(items):
        entry = (section, i)
        name = item.get("name") if isinstance(item, dict) else None
        where = _where(section, i, name, doc.line(entry, exact=True))
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping of fields")
            continue
        try:
            spec = model.model_validate(item)
        except ValidationError as exc:
            problems += [_describe(where, doc, entry, e) for e in exc.errors(include_url=False)]
            continue
        key = name_key(spec.name)
        if key in seen:
            problems.append(
                f"{where}, field 'name'{_field_line(doc, entry, ('name',))}: "
                f"duplicate of entry {seen[key] + 1}"
            )
            continue
        seen[key] = i
        if isinstance(spec, AreaSpec):
            parsed.areas.append(spec)
            if "verified" in item:
                parsed.has_verified.add(key)
            for fname, line in doc.key_lines(entry).items():
                parsed.lines[(key, fname)] = line
            parsed.lines[(key, "")] = doc.line(entry, exact=True) or 0
        else:
            parsed.teams.append(spec)
    return problems


def _alias_conflicts(parsed: ParsedMap) -> list[str]:
    """An alias may not be another area's name or alias: a question must have one answer."""
    problems = []
    owner: dict[str, str] = {name_key(a.name): a.name for a in parsed.areas}
    for area in parsed.areas:
        entry_line = parsed.lines.get((name_key(area.name), ""))
        for alias in area.aliases:
            key = name_key(alias)
            other = owner.get(key)
            if other is not None and name_key(other) != name_key(area.name):
                line = parsed.lines.get((name_key(area.name), "aliases"), 0)
                problems.append(
                    f'areas entry "{area.name}" (line {entry_line})'
                    f", field 'aliases' (line {line}): {alias!r} already names {other!r}"
                )
            else:
                owner[key] = area.name
    return problems


def area_document(area: Any) -> dict[str, Any]:
    """One area (an Area row or AreaView) in the file's shape and key order."""
    verified = area.last_verified.date() if area.last_verified is not None else None
    return {
        "name": area.name,
        "description": area.description,
        "aliases": list(area.aliases),
        "covers": list(area.covers or ()),
        "owners": list(area.owners),
        "backups": list(area.backups),
        "team": area.team,
        "contact": area.contact,
        "security": bool(area.security),
        "links": list(area.links),
        "verified": verified,
        "verified_by": area.verified_by,
    }


def dump_map(areas: list[Any], teams: list[Any]) -> str:
    """The map as YAML: areas and teams sorted by name, so exports diff cleanly in git."""
    doc = {
        "areas": [area_document(a) for a in sorted(areas, key=lambda a: name_key(a.name))],
        "teams": [
            {"name": t.name, "security_champion": t.security_champion}
            for t in sorted(teams, key=lambda t: name_key(t.name))
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
