"""What a match rests on: subject-carrying *anchors*, and BM25F for described situations.

No answer from one shared word. An area may be named only when the question contains an
**anchor** of it: all the words of one of its names, aliases or ``covers:`` phrases, or
two neighbouring words of its description ("key ceremonies", "build runners"). An anchor
of one word only counts when that word carries a subject: it is not generic ("key",
"account", "security", "access"...) and not common across the map (used by more than
``max(3, 10% of the areas)`` areas, in any field). So "who is in charge of backups?"
cannot be answered by *Wallet keys and seed phrases* because its description mentions
"seed phrase backups": "backups" there is one description word, not an anchor.

Situational questions ("someone leaked an API key, who handles that?") are ranked with
BM25F over three fields: names and aliases (weight 3), ``covers`` (situations and verbs,
weight 3) and the description (weight 1), with the word's IDF over the areas. Our own
BM25 instead of ``rank-bm25``: that package scores every document for every question
(O(areas) per word; too slow for 10,000 areas under 5 ms), has no fields, and its last
release is from 2022; here candidates come from the inverted index, and fields matter
(a word in an alias is stronger evidence than one in a description). Term frequency is
0 or 1 (words are de-duplicated), so only the IDF, field weights and length
normalisation remain of BM25. Only anchored areas may win.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.features.ownership.text import PHRASAL

# Words that never carry a subject alone, whatever the map says.
GENERIC = frozenset(
    """
    key account security secure access data team system service app application tool
    information info policy process management manager admin user new old public internal
    official online office company organisation organization org project work help support
    thing
    """.split()
)
# Words of a described situation that say nothing about its subject.
FILLERS = frozenset(
    """
    think guess believe maybe probably might may just got get getting gotten have has had
    need needs want wants wanted tried try trying accidentally again still already yet
    happened happen happens something anything everything nothing somehow really very
    went gone go going come came know knew tell told call called fix fixes fixed report
    reporting talk ask contact handle handles handled help helps deal deals let lets
    am im i'm been being were was did done make made so but not no can't cannot don't
    dont won't wont isn't doesn't didn't out up down off over one two ago yesterday
    morning week weird strange keep keeps kept seem seems seemed look looks like
    """.split()
)
FIELD_WEIGHTS = {"key": 3.0, "covers": 3.0, "desc": 1.0}
K1 = 1.2
B = 0.75
AMBIGUOUS_RATIO = 0.8


@dataclass(frozen=True)
class Phrase:
    """A name, alias or covers phrase: its words and how it reads."""

    words: tuple[str, ...]
    text: str
    kind: str  # "name" | "alias" | "covers" | "description"


def cover_core(phrase: Phrase) -> Phrase | None:
    """A ``covers`` situation with its generic object left open, as a second anchor:
    "someone got into our account" also anchors on "got into" alone, so "someone got into
    our github organisation" finds it. Only when what is left still says what happened:
    an intrusion verb (``text.PHRASAL``) or two words or more."""
    core = tuple(w for w in phrase.words if w not in GENERIC)
    if not core or core == phrase.words:
        return None
    if len(core) >= 2 or core[0] in PHRASAL:
        return Phrase(core, phrase.text, phrase.kind)
    return None


def common_limit(n_areas: int) -> int:
    """How many areas may use a word before it is too common to anchor alone."""
    return max(3, math.ceil(n_areas * 0.10))


def carries_subject(
    phrase: Sequence[str], df: dict[str, int], limit: int, *, description: bool = False
) -> bool:
    """Whether ``phrase`` can carry a match: one rare non-generic word, or several words
    of which at least one is not generic. Two description words need one that is rare
    by the stricter ``description_limit`` (derived from ``limit``): "internal api" in a
    thousand descriptions anchors nothing."""
    if description:
        strict = description_limit(limit)
        return any(w not in GENERIC and df.get(w, 0) <= strict for w in phrase)
    if len(phrase) == 1:
        return phrase[0] not in GENERIC and df.get(phrase[0], 0) <= limit
    return any(w not in GENERIC for w in phrase)


def description_limit(limit: int) -> int:
    """The common-word limit for description words: a tenth of ``limit`` (at least 3),
    i.e. max(3, 1 % of the areas)."""
    return max(3, limit // 10)


def best_anchor(
    phrases: Iterable[Phrase],
    desc_seq: Sequence[str],
    matched: set[str],
    df: dict[str, int],
    limit: int,
    *,
    partial: bool = False,
) -> Phrase | None:
    """The longest anchor of an area in the question's (typo-corrected) words, if any.

    ``partial`` (look-ups, where the score also demands that most of the question is
    covered): one rare, non-generic word of a name or alias is an anchor too ("who owns
    release?" -> *Release signing*); never a single word of ``covers`` or a description.
    """
    best: Phrase | None = None
    for phrase in phrases:
        if (
            all(w in matched for w in phrase.words)
            and carries_subject(phrase.words, df, limit)
            and (best is None or len(phrase.words) > len(best.words))
        ):
            best = phrase
    if best is None and partial:
        for phrase in phrases:
            if phrase.kind in ("name", "alias"):
                for w in phrase.words:
                    if w in matched and carries_subject((w,), df, limit):
                        best = Phrase((w,), w, phrase.kind)
                        break
            if best is not None:
                break
    if best is None or len(best.words) < 2:
        for a, b in itertools.pairwise(desc_seq):
            if (
                a in matched
                and b in matched
                and carries_subject((a, b), df, limit, description=True)
            ):
                return Phrase((a, b), f"{a} {b}", "description")
    return best


def idf(df: int, n: int) -> float:
    """BM25's IDF (never negative)."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def bm25f(
    qweights: dict[str, float],
    fields: dict[str, frozenset[str]],
    lengths: dict[str, int],
    avg: dict[str, float],
    df: dict[str, int],
    n: int,
) -> float:
    """BM25F of one area for the question words (``qweights``: word -> similarity 0-1)."""
    score = 0.0
    for w, sim in qweights.items():
        tf = 0.0
        for name, words in fields.items():
            if w in words:
                norm = 1.0 - B + B * lengths[name] / max(avg[name], 1.0)
                tf += FIELD_WEIGHTS[name] / norm
        if tf:
            score += sim * idf(df.get(w, 0), n) * tf / (K1 + tf)
    return score
