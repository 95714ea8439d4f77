"""How questions and names are cut into words (see ``matching`` for how they are used)."""

from __future__ import annotations

import re
import unicodedata

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


# Phrasal verbs of intrusion: "someone got into our repo" means unauthorised access, but
# "into" is a stopword and "got" says nothing alone. In the map and in questions alike they
# become one word, "intrusion". "got into" only with someone else as its subject ("I got
# into the office late" is no intrusion, "I can't get into my account" a locked-out user).
INTRUSION = "intrusion"
_ACTOR = r"(?:someone|somebody|attackers?|hackers?|intruders?|strangers?|they)"
_INTRUSION = re.compile(
    rf"\b(?:(?P<actor>{_ACTOR})\s+(?:has\s+|have\s+)?(?:got|gotten)"
    r"|broke|broken|hacked|snuck|sneaked)\s+(?:into|in\s+to)\b"
)

# Lock-out: the user cannot get into an account. "can't get into", "can't log in", "unable
# to sign on", "couldn't access", "locked out (of)", "my login doesn't work" all become one
# word, "lockout", whatever the account ("my email", "github", "the wiki"). No intruder
# (that is ``INTRUSION``), and not a place: "locked out of the office" is for a key.
LOCKOUT = "lockout"
_NOT = r"(?:can'?t|cannot|can\s+not|couldn'?t|could\s+not|(?:un|not\s+)able\s+to)"
_GET_IN = (
    r"(?:get(?:ting)?\s+(?:in(?:to)?|in\s+to|back\s+in(?:to)?)|log(?:\s*-?\s*)(?:in|on)(?:to)?"
    r"|login(?:\s+to)?|sign(?:\s*-?\s*)(?:in|on)(?:to)?|access)"
)
_PLACE = (
    r"(?!\s+(?:of\s+|to\s+)?(?:the\s+|my\s+|our\s+|a\s+)?(?:office|building|house|home|"
    r"flat|apartment|room|car|door|gate|premises)\b)"
)
_LOCKOUT = re.compile(
    rf"(?:\b{_NOT}(?:\s+(?:still|even|seem\s+to|longer|now))*\s+{_GET_IN}"
    r"|\blocked\s+(?:me\s+|myself\s+|us\s+)?out|\block-?outs?"
    r"|\b(?:login|log-?in|sign-?in)\s+(?:doesn'?t|does\s+not|isn'?t|is\s+not|won'?t|stopped)"
    rf"(?:\s+work(?:ing|s)?)?)\b{_PLACE}"
)
PHRASAL = frozenset({INTRUSION, LOCKOUT})


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold().replace("_", " ").replace("’", "'")
    folded = _INTRUSION.sub(lambda m: f" {m['actor'] or ''} {INTRUSION} ", folded)
    return _LOCKOUT.sub(f" {LOCKOUT} ", folded)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def deletions(word: str) -> set[str]:
    """``word`` and every string one letter shorter: two words within one slip (a letter
    missing, extra, changed, or two swapped) share at least one of them."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def ratio(a: str, b: str) -> float:
    """Similarity of two words, 0-100: ``100 * 2 * LCS / (len(a) + len(b))``.

    The same figure as rapidfuzz's ``fuzz.ratio`` (normalized Indel similarity), computed
    the same way, for the few typo candidates of a question. rapidfuzz loaded all of
    its 41 modules for this one function: 2.7 MB of the running bot's memory.
    """
    total = len(a) + len(b)
    if not total:
        return 100.0
    previous = [0] * (len(b) + 1)
    for char in a:  # longest common subsequence, one row at a time
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if char == other else max(previous[j + 1], current[j]))
        previous = current
    distance = total - 2 * previous[-1]
    return 100.0 * (1.0 - distance / total)


def words(text: str) -> list[str]:
    """The meaningful words of ``text``, normalised, in order, without repeats."""
    folded = _fold(text)
    seen: dict[str, None] = {}
    for raw in _NON_WORD.split(folded):
        raw = raw[:MAX_WORD_CHARS]
        if raw and raw not in STOPWORDS:
            seen.setdefault(_stem(raw), None)
            if len(seen) >= MAX_WORDS:
                break
    return list(seen)


def sequence(text: str) -> list[str]:
    """The meaningful words of ``text`` in order, repeats kept (for neighbouring words)."""
    folded = _fold(text)
    return [_stem(raw) for raw in _NON_WORD.split(folded) if raw and raw not in STOPWORDS]


def name_key(text: str) -> str:
    """How names and aliases compare for identity: case-folded, spacing collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
