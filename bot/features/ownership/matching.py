"""Finding the area a question is about: an in-memory index and an explainable score.

How a question is ranked (all scores are 0-100):

* The question and every area's name, aliases and description are cut into *words*:
  case-folded, punctuation dropped, filler words ("the", "our", "stuff") removed, and a
  plural "s" trimmed, so "Signing keys?" and "signing key" are the same two words.
* A question that *is* an area's name or alias, word for word, scores 100.
* Otherwise each question word is matched to the area's words: 1.0 for the same word in
  the name or an alias, the rapidfuzz ``ratio`` (>= 0.80, words of 5+ letters only) for a
  typo ("phising" ~ "phishing" = 0.93), and 0.9 times that for a word of the description.
  A word the map knows is taken as written (never as a typo of another word);
  typo candidates are the words within one slip (a letter missing, extra, changed, or two
  swapped), found through a deletion index rather than by comparing every word.
  ``query_coverage`` is the mean over the question's words; ``name_coverage`` is the best
  share of one name's or alias's words that the question mentions.
  ``score = 100 * (0.8 * query_coverage + 0.2 * name_coverage)``.
* Confident answer: best score >= ``threshold`` (70) and no other area within
  ``margin`` (6) points of it. Several within the margin: "which one?" with the top three.
  Below the threshold: no owner at all (the fallback), never a guess.

Consequences that keep the bot honest: a question word that matches nothing costs its
full share of ``query_coverage`` (one unknown word out of two caps the score at 60, below
the threshold), and a description-only match (at most 72) passes only when *every* word
of the question is in the description.

Candidates come from inverted indexes (word -> areas), read only for the rarest words
that can decide the answer (see ``_rarest``), and typo look-ups go through the deletion
index, so a question costs a few dictionary look-ups instead of a
scan of the whole map (see bench/ownership_lookup.py). Near misses (the "did you mean"
hint of a fallback) are looked for more widely, but only on the fallback path.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

THRESHOLD = 70.0
MARGIN = 6.0
DESCRIPTION_WEIGHT = 0.9
TYPO_CUTOFF = 80.0
TYPO_MIN_LENGTH = 5
NEAR_MISS = 45.0
NEAR_MISS_SCAN_LIMIT = 500

STOPWORDS = frozenset(
    """
    a an the our your my their its this that these those of for to in on at by with and or
    about regarding re from into is are was be it i we you me us do does can could should
    would will any some anyone someone anybody somebody please here there now currently
    today thing things stuff matter matters question questions issue issues problem problems
    topic topics related concerning around whole entire general also just exactly actually
    who whom what which whose if thanks thank hi hello hey
    """.split()
)

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
# Hostile input: one 24,000-letter "word" made 24,000 one-letter-shorter copies of itself
# (1.5 s, 550 MB). No real name is longer than this; the rest of the word adds nothing.
MAX_WORD_CHARS = 40
MAX_WORDS = 64


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _deletions(word: str) -> set[str]:
    """``word`` and every string one letter shorter: two words within one slip (a letter
    missing, extra, changed, or two swapped) share at least one of them."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def words(text: str) -> list[str]:
    """The meaningful words of ``text``, normalised, in order, without repeats."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("_", " ")
    seen: dict[str, None] = {}
    for raw in _NON_WORD.split(folded):
        raw = raw[:MAX_WORD_CHARS]
        if raw and raw not in STOPWORDS:
            seen.setdefault(_stem(raw), None)
            if len(seen) >= MAX_WORDS:
                break
    return list(seen)


def name_key(text: str) -> str:
    """How names and aliases compare for identity: case-folded, spacing collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


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


@dataclass(frozen=True)
class Match:
    area: AreaView
    score: float
    why: str


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


@dataclass
class _Entry:
    area: AreaView
    keys: list[tuple[str, ...]]
    key_words: frozenset[str]
    desc_words: frozenset[str]


@dataclass
class MapIndex:
    """Immutable once built; rebuilt whenever the map changes."""

    entries: list[_Entry] = field(default_factory=list)
    exact: dict[tuple[str, ...], int] = field(default_factory=dict)
    key_postings: dict[str, list[int]] = field(default_factory=dict)
    desc_postings: dict[str, list[int]] = field(default_factory=dict)
    vocabulary: list[str] = field(default_factory=list)
    # name_key of every name and alias -> entry (exact look-ups for edits)
    by_key: dict[str, int] = field(default_factory=dict)
    # one-deletion neighbourhoods (SymSpell): variant -> vocabulary words
    typos: dict[str, list[str]] = field(default_factory=dict)
    threshold: float = THRESHOLD
    margin: float = MARGIN

    @classmethod
    def build(cls, areas: Iterable[AreaView], *, threshold: float = THRESHOLD) -> MapIndex:
        """Index ``areas`` (names, aliases, description words)."""
        index = cls(threshold=threshold)
        for area in areas:
            keys = [tuple(words(k)) for k in (area.name, *area.aliases)]
            keys = [k for k in keys if k]
            entry = _Entry(
                area,
                keys,
                frozenset(w for k in keys for w in k),
                frozenset(words(area.description)),
            )
            pos = len(index.entries)
            index.entries.append(entry)
            for key in keys:
                index.exact.setdefault(key, pos)
            for text in (area.name, *area.aliases):
                index.by_key.setdefault(name_key(text), pos)
            for w in entry.key_words:
                index.key_postings.setdefault(w, []).append(pos)
            for w in entry.desc_words:
                index.desc_postings.setdefault(w, []).append(pos)
        index.vocabulary = sorted(set(index.key_postings) | set(index.desc_postings))
        for w in index.vocabulary:
            if len(w) >= TYPO_MIN_LENGTH - 1:
                for variant in _deletions(w):
                    index.typos.setdefault(variant, []).append(w)
        return index

    def __len__(self) -> int:
        return len(self.entries)

    def _similar(self, word: str) -> dict[str, float]:
        """Vocabulary words close to ``word``, with their similarity (0-1)."""
        if word in self.key_postings or word in self.desc_postings:
            return {word: 1.0}  # a word the map knows is taken as written, never as a typo
        found: dict[str, float] = {}
        if len(word) >= TYPO_MIN_LENGTH:
            close: set[str] = set()
            for variant in _deletions(word):
                close.update(self.typos.get(variant, ()))
            for other in close:
                score = fuzz.ratio(word, other, score_cutoff=TYPO_CUTOFF)
                if score:
                    found.setdefault(other, score / 100.0)
        return found

    def search(self, query: str) -> SearchResult:
        """Rank the areas for ``query`` and decide: answer, ambiguous, or none."""
        qwords = tuple(words(query))
        if not qwords:
            return SearchResult("none", qwords)
        if qwords in self.exact:
            area = self.entries[self.exact[qwords]].area
            return SearchResult("answer", qwords, (Match(area, 100.0, "exact name or alias"),))
        similar = [self._similar(w) for w in qwords]
        matched_vocab = {w for sims in similar for w in sims}
        candidates: set[int] = set()
        for sims in self._rarest(similar):
            for w in sims:
                candidates.update(self.key_postings.get(w, ()))
                candidates.update(self.desc_postings.get(w, ()))
        scored = [self._score(self.entries[i], similar, matched_vocab) for i in candidates]
        scored.sort(key=lambda m: (-m.score, m.area.name.casefold()))
        confident = [m for m in scored if m.score >= self.threshold]
        if not confident:
            return SearchResult("none", qwords, near_misses=self._near_misses(similar, scored))
        close = [m for m in confident if m.score >= confident[0].score - self.margin]
        if len(close) > 1:
            return SearchResult("ambiguous", qwords, tuple(close[:3]))
        return SearchResult("answer", qwords, (confident[0],))

    def _near_misses(
        self, similar: list[dict[str, float]], scored: list[Match]
    ) -> tuple[Match, ...]:
        """Up to three areas that came close (a hint in the fallback, never an answer).

        The pruned candidates may miss them, so when the question's words are not too
        common all their areas are scored; this runs only on the fallback path.
        """
        everyone: set[int] = set()
        for sims in similar:
            for w in sims:
                everyone.update(self.key_postings.get(w, ()))
                everyone.update(self.desc_postings.get(w, ()))
        if len(everyone) <= NEAR_MISS_SCAN_LIMIT:
            matched = {w for sims in similar for w in sims}
            scored = [self._score(self.entries[i], similar, matched) for i in everyone]
            scored.sort(key=lambda m: (-m.score, m.area.name.casefold()))
        return tuple(m for m in scored[:3] if m.score >= NEAR_MISS)

    def _rarest(self, similar: list[dict[str, float]]) -> list[dict[str, float]]:
        """The question words whose postings must be read to find every passing area.

        Passing needs ``query_coverage >= (threshold - 20) / 80`` and a word adds at most
        1, so an area must match at least ``need`` of the ``k`` words, hence at least one
        of the ``k - need + 1`` rarest: only their postings are read (a common word such
        as "project" then costs nothing when the question also has a rare one).
        """
        k = len(similar)
        need = max(1, math.ceil(k * (self.threshold - 20.0) / 80.0 - 1e-9))

        def size(sims: dict[str, float]) -> int:
            return sum(
                len(self.key_postings.get(w, ())) + len(self.desc_postings.get(w, ())) for w in sims
            )

        return sorted(similar, key=size)[: k - need + 1]

    def _score(
        self, entry: _Entry, similar: Sequence[dict[str, float]], matched_vocab: set[str]
    ) -> Match:
        total = 0.0
        via_description = False
        for sims in similar:
            best = 0.0
            for w, s in sims.items():
                if w in entry.key_words:
                    best = max(best, s)
                elif w in entry.desc_words and s * DESCRIPTION_WEIGHT > best:
                    best = s * DESCRIPTION_WEIGHT
                    via_description = True
            total += best
        query_coverage = total / len(similar)
        name_coverage = max(
            (sum(1 for w in key if w in matched_vocab) / len(key) for key in entry.keys),
            default=0.0,
        )
        score = round(100.0 * (0.8 * query_coverage + 0.2 * name_coverage), 1)
        why = (
            f"query {query_coverage:.0%} covered"
            f"{' (partly by the description)' if via_description else ''}, "
            f"name {name_coverage:.0%} mentioned"
        )
        return Match(entry.area, score, why)

    def area_by_key(self, text: str) -> AreaView | None:
        """The area whose name or alias is exactly ``text`` (for edits: never fuzzy)."""
        pos = self.by_key.get(name_key(text))
        return self.entries[pos].area if pos is not None else None
