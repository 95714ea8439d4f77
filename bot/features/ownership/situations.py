"""Ranking a described situation: the anchor index and BM25F (see ``evidence``).

Anchored areas are found through ``MapIndex.anchors`` (every anchor phrase filed under its
rarest word), never by scoring the map; only they are ranked.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from bot.features.ownership import evidence
from bot.features.ownership.evidence import Phrase
from bot.features.ownership.matching import Match, SearchResult

if TYPE_CHECKING:
    from bot.features.ownership.matching import MapIndex, _Entry

SITUATION_POSTINGS_CAP = 500
SITUATION_ANCHOR_CAP = 16


def _anchor_rank(phrase: Phrase) -> float:
    """As ``evidence.best_anchor`` prefers: longer names/aliases/covers; two description
    words beat a one-word name or alias."""
    return 1.5 if phrase.kind == "description" else float(len(phrase.words))


def file_anchors(index: MapIndex) -> None:
    """File every anchor phrase of every area under its rarest word."""

    def rarest(ws: tuple[str, ...]) -> str:
        return min(ws, key=lambda w: (index.df.get(w, 0), w))

    for pos, entry in enumerate(index.entries):
        phrases = list(entry.phrases)
        pairs = dict.fromkeys(itertools.pairwise(entry.desc_seq))
        phrases += [Phrase(pair, " ".join(pair), "description") for pair in pairs]
        for phrase in phrases:
            desc = phrase.kind == "description"
            if evidence.carries_subject(phrase.words, index.df, index.limit, description=desc):
                index.anchors.setdefault(rarest(phrase.words), []).append((pos, phrase))


def _bm25f(index: MapIndex, entry: _Entry, weights: dict[str, float], n: int) -> float:
    fields = {"key": entry.key_words, "covers": entry.cover_words, "desc": entry.desc_words}
    lengths = {"key": len(entry.key_words), "covers": len(entry.cover_words)}
    lengths["desc"] = len(entry.desc_words)
    return evidence.bm25f(weights, fields, lengths, index.avg_len, index.df, n)


def rank_situation(
    index: MapIndex, qwords: tuple[str, ...], similar: list[dict[str, float]], matched: set[str]
) -> SearchResult:
    """BM25F over names/aliases, covers and description; only anchored areas win."""
    weights: dict[str, float] = {}
    for sims in similar:
        for w, sim in sims.items():
            weights[w] = max(weights.get(w, 0.0), sim)
    n = len(index.entries)
    found: dict[int, Phrase] = {}
    for w in weights:
        for pos, phrase in index.anchors.get(w, ()):
            if all(x in matched for x in phrase.words):
                current = found.get(pos)
                if current is None or _anchor_rank(phrase) > _anchor_rank(current):
                    found[pos] = phrase
    if len(found) > SITUATION_ANCHOR_CAP:
        # Keep the areas anchored by the most specific words (rarest first, then longer
        # anchors): one anchored only by words many areas share cannot outrank them.
        def specificity(item: tuple[int, Phrase]) -> tuple[int, int]:
            phrase = item[1]
            return (min(index.df.get(w, 0) for w in phrase.words), -len(phrase.words))

        found = dict(sorted(found.items(), key=specificity)[:SITUATION_ANCHOR_CAP])
    ranked: list[Match] = []
    for pos, anchor in found.items():
        entry = index.entries[pos]
        score = _bm25f(index, entry, weights, n)
        why = f"matched: {anchor.text} → {entry.area.name} ({anchor.kind})"
        ranked.append(Match(entry.area, round(score, 2), why, anchor.text))
    loose: list[Match] = []
    if not ranked:  # hints for the fallback, from the question's less common words
        sizes = {w: len(index._postings(w)) for w in weights}
        readable = [w for w in weights if sizes[w] <= SITUATION_POSTINGS_CAP]
        candidates = {i for w in readable for i in index._postings(w)}
        for i in candidates:
            entry = index.entries[i]
            loose.append(Match(entry.area, round(_bm25f(index, entry, weights, n), 2), ""))
    ranked.sort(key=lambda m: (-m.score, m.area.name.casefold()))
    if not ranked:
        loose.sort(key=lambda m: (-m.score, m.area.name.casefold()))
        return SearchResult("none", qwords, near_misses=tuple(loose[:3]))
    close = [m for m in ranked if m.score >= ranked[0].score * evidence.AMBIGUOUS_RATIO]
    if len(close) > 1:
        return SearchResult("ambiguous", qwords, tuple(close[:3]))
    return SearchResult("answer", qwords, (ranked[0],))
