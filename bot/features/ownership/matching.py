"""Finding the area a question is about: an in-memory index and an explainable score.

How a question is ranked (all scores are 0-100):

* The question and every area's name, aliases and description are cut into *words*:
  case-folded, punctuation dropped, filler words ("the", "our", "stuff") removed, and a
  plural "s" trimmed, so "Signing keys?" and "signing key" are the same two words.
* A question that *is* an area's name or alias, word for word, scores 100.
* Otherwise each question word is matched to the area's words: 1.0 for the same word in
  the name or an alias, the Indel ``ratio`` (>= 0.80, words of 5+ letters only) for a
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.features.ownership import evidence
from bot.features.ownership.evidence import Phrase
from bot.features.ownership.text import deletions, name_key, ratio, sequence, words
from bot.features.ownership.views import AreaView, Match, SearchResult

__all__ = ["AreaView", "MapIndex", "Match", "SearchResult", "name_key", "sequence", "words"]

THRESHOLD = 70.0
MARGIN = 6.0
DESCRIPTION_WEIGHT = 0.9
TYPO_CUTOFF = 80.0
TYPO_MIN_LENGTH = 5
NEAR_MISS = 45.0
NEAR_MISS_SCAN_LIMIT = 500


@dataclass
class _Entry:
    area: AreaView
    keys: list[tuple[str, ...]]
    key_words: frozenset[str]
    desc_words: frozenset[str]
    phrases: list[Phrase] = field(default_factory=list)  # names, aliases, covers
    cover_words: frozenset[str] = frozenset()
    desc_seq: tuple[str, ...] = ()


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
    cover_postings: dict[str, list[int]] = field(default_factory=dict)
    # Every anchor phrase of every area, filed under its rarest word: a situation finds
    # its anchored areas without scoring the map (see _situation).
    anchors: dict[str, list[tuple[int, Phrase]]] = field(default_factory=dict)
    df: dict[str, int] = field(default_factory=dict)  # areas using a word, any field
    avg_len: dict[str, float] = field(default_factory=dict)
    limit: int = 3  # evidence.common_limit
    threshold: float = THRESHOLD
    margin: float = MARGIN

    @classmethod
    def build(cls, areas: Iterable[AreaView], *, threshold: float = THRESHOLD) -> MapIndex:
        """Index ``areas`` (names, aliases, description words)."""
        index = cls(threshold=threshold)
        for area in areas:
            keys = [tuple(words(k)) for k in (area.name, *area.aliases)]
            keys = [k for k in keys if k]
            phrases = [
                Phrase(tuple(words(t)), t, kind)
                for kind, texts in (("name", (area.name,)), ("alias", area.aliases))
                for t in texts
            ]
            covers = [Phrase(tuple(words(t)), t, "covers") for t in area.covers]
            cores = [c for c in map(evidence.cover_core, covers) if c is not None]
            desc_seq = tuple(sequence(area.description))
            entry = _Entry(
                area,
                keys,
                frozenset(w for k in keys for w in k),
                frozenset(desc_seq),
                [p for p in (*phrases, *covers, *cores) if p.words],
                frozenset(w for p in covers for w in p.words),
                desc_seq,
            )
            pos = len(index.entries)
            index.entries.append(entry)
            for w in entry.key_words | entry.cover_words | entry.desc_words:
                index.df[w] = index.df.get(w, 0) + 1
            for w in entry.cover_words:
                index.cover_postings.setdefault(w, []).append(pos)
            for key in keys:
                index.exact.setdefault(key, pos)
            for text in (area.name, *area.aliases):
                index.by_key.setdefault(name_key(text), pos)
            for w in entry.key_words:
                index.key_postings.setdefault(w, []).append(pos)
            for w in entry.desc_words:
                index.desc_postings.setdefault(w, []).append(pos)
        index.vocabulary = sorted(
            set(index.key_postings) | set(index.desc_postings) | set(index.cover_postings)
        )
        index.limit = evidence.common_limit(len(index.entries))
        from bot.features.ownership.situations import file_anchors

        file_anchors(index)
        n = max(len(index.entries), 1)
        index.avg_len = {
            "key": sum(len(e.key_words) for e in index.entries) / n,
            "covers": sum(len(e.cover_words) for e in index.entries) / n,
            "desc": sum(len(e.desc_words) for e in index.entries) / n,
        }
        for w in index.vocabulary:
            if len(w) >= TYPO_MIN_LENGTH - 1:
                for variant in deletions(w):
                    index.typos.setdefault(variant, []).append(w)
        return index

    def __len__(self) -> int:
        return len(self.entries)

    def _similar(self, word: str) -> dict[str, float]:
        """Vocabulary words close to ``word``, with their similarity (0-1)."""
        if word in self.df:
            return {word: 1.0}  # a word the map knows is taken as written, never as a typo
        found: dict[str, float] = {}
        if len(word) >= TYPO_MIN_LENGTH:
            close: set[str] = set()
            for variant in deletions(word):
                close.update(self.typos.get(variant, ()))
            for other in close:
                score = ratio(word, other)
                if score >= TYPO_CUTOFF:
                    found.setdefault(other, score / 100.0)
        return found

    def search(self, query: str, *, situational: bool = False) -> SearchResult:
        """Rank the areas for ``query`` and decide: answer, ambiguous, or none.

        ``situational``: the query describes what happened ("I clicked a phishing
        link"): filler words are dropped and the areas are ranked by BM25F
        (see ``evidence``) instead of by coverage of the query's words.
        """
        qwords = tuple(words(query))
        if situational:
            qwords = tuple(w for w in qwords if w not in evidence.FILLERS)
        if not qwords:
            return SearchResult("none", qwords)
        if not situational and qwords in self.exact:
            area = self.entries[self.exact[qwords]].area
            why = f"matched: {query.strip()} → {area.name} (exact name or alias)"
            return SearchResult("answer", qwords, (Match(area, 100.0, why, query.strip()),))
        similar = [self._similar(w) for w in qwords]
        matched_vocab = {w for sims in similar for w in sims}
        if situational:
            return self._situation(qwords, similar, matched_vocab)
        candidates: set[int] = set()
        for sims in self._rarest(similar):
            for w in sims:
                candidates.update(self._postings(w))
        scored = [self._score(self.entries[i], similar, matched_vocab) for i in candidates]
        scored.sort(key=lambda m: (-m.score, m.area.name.casefold()))
        # No answer from one shared word: a confident area needs an anchor.
        confident = [m for m in scored if m.score >= self.threshold and m.anchor]
        if not confident:
            return SearchResult("none", qwords, near_misses=self._near_misses(similar, scored))
        close = [m for m in confident if m.score >= confident[0].score - self.margin]
        if len(close) > 1:
            return SearchResult("ambiguous", qwords, tuple(close[:3]))
        return SearchResult("answer", qwords, (confident[0],))

    def _postings(self, word: str) -> list[int]:
        return [
            *self.key_postings.get(word, ()),
            *self.cover_postings.get(word, ()),
            *self.desc_postings.get(word, ()),
        ]

    def _anchor(self, entry: _Entry, matched: set[str], *, partial: bool = False) -> Phrase | None:
        return evidence.best_anchor(
            entry.phrases, entry.desc_seq, matched, self.df, self.limit, partial=partial
        )

    def _situation(
        self, qwords: tuple[str, ...], similar: list[dict[str, float]], matched: set[str]
    ) -> SearchResult:
        from bot.features.ownership.situations import rank_situation

        return rank_situation(self, qwords, similar, matched)

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
                everyone.update(self._postings(w))
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
            return sum(len(self._postings(w)) for w in sims)

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
                elif (
                    w in entry.desc_words or w in entry.cover_words
                ) and s * DESCRIPTION_WEIGHT > best:
                    best = s * DESCRIPTION_WEIGHT
                    via_description = True
            total += best
        query_coverage = total / len(similar)
        name_coverage = max(
            (sum(1 for w in key if w in matched_vocab) / len(key) for key in entry.keys),
            default=0.0,
        )
        score = round(100.0 * (0.8 * query_coverage + 0.2 * name_coverage), 1)
        anchor = self._anchor(entry, matched_vocab, partial=True)
        if anchor is None:
            why = f"no anchor; query {query_coverage:.0%} covered"
            return Match(entry.area, score, why)
        why = (
            f"matched: {anchor.text} → {entry.area.name} ({anchor.kind}); "
            f"query {query_coverage:.0%} covered"
            f"{' (partly by the description)' if via_description else ''}"
        )
        return Match(entry.area, score, why, anchor.text)

    def area_by_key(self, text: str) -> AreaView | None:
        """The area whose name or alias is exactly ``text`` (for edits: never fuzzy)."""
        pos = self.by_key.get(name_key(text))
        return self.entries[pos].area if pos is not None else None
