"""What the index hands out: an area as answers see it, a match, and a search result."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AreaView:
    """An area as the index and the replies see it (a detached copy of the row)."""

    id: int
    name: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    team: str | None = None
    owners: tuple[str, ...] = ()
    backups: tuple[str, ...] = ()
    contact: str = ""
    security: bool = False
    links: tuple[str, ...] = ()
    last_verified: object = None  # datetime | None
    covers: tuple[str, ...] = ()
    verified_by: str | None = None
    source: str | None = None  # "file:line" of the YAML entry it was imported from


@dataclass(frozen=True)
class Match:
    area: AreaView
    score: float
    why: str
    anchor: str = ""  # the words the match rests on, as the map spells them


@dataclass(frozen=True)
class SearchResult:
    """``kind``: "answer" (matches[0] is it), "ambiguous" (top three), or "none"."""

    kind: str
    query_words: tuple[str, ...]
    matches: tuple[Match, ...] = ()
    near_misses: tuple[Match, ...] = ()

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None
