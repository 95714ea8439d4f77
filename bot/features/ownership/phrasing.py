"""Recognising "who owns X?" in plain words, for ``router.natural``.

The message is normalised first (case, curly apostrophes, runs of spaces, trailing
punctuation), then searched for one of the phrasings below; what follows is the thing
asked about. "does anyone know who handles X?" works because the search finds
"who handles X" inside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.features.ownership.text import words

_ASK = r"(?:contact|talk to|ask|ping|reach out to|speak to|go to)(?: about| for| regarding| re)?"
_VERBS = (
    r"owns|maintains|handles|manages|runs|looks after|takes care of|deals with|"
    r"is responsible for|is in charge of|is accountable for|is the owner of|"
    r"is the maintainer of|is the contact for|is the point of contact for|"
    r"is the person to (?:contact|ask|talk to) (?:about|for)|"
    rf"(?:should|do|can|could|would) (?:i|we) {_ASK}|"
    rf"to {_ASK}|"
    r"knows about|is the expert on|(?:can|could) help(?: me| us)? with"
)
_PATTERN = re.compile(
    rf"\bwho(?:m)?\s+(?:(?:currently|actually|exactly|really)\s+)?(?:{_VERBS})\s+(?P<thing>.+)",
    re.IGNORECASE,
)
_OWNER_OF = re.compile(
    r"\b(?:who|whom)\s+is\s+(?:the\s+)?(?:owner|maintainer|contact|responsible)\s+"
    r"(?:of|for)\s+(?P<thing>.+)",
    re.IGNORECASE,
)
_TRAIL = re.compile(r"[\s?!.,;:]+$")
# A question mark (or "?!") before a space ends the question: "who owns dns? it's down".
_QUESTION_END = re.compile(r"[?!]*\?[?!]*(?:\s|$)")


def _normalise(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'")
    text = " ".join(text.split())
    text = re.sub(r"\bwho's\b", "who is", text, flags=re.IGNORECASE)
    text = re.sub(r"\bwho\s+are\b", "who is", text, flags=re.IGNORECASE)
    return text


def match_owner_question(text: str) -> str | None:
    """The thing asked about in "who owns X?"-like ``text``, or None if it isn't one."""
    text = _normalise(text)
    if len(text) > 300:  # a long message mentioning "who owns" is chatter, not a question
        return None
    for pattern in (_OWNER_OF, _PATTERN):
        found = pattern.search(text)
        if found:
            thing = _QUESTION_END.split(found["thing"], maxsplit=1)[0]
            thing = _TRAIL.sub("", thing).strip()
            # "who owns this?" in passing is chatter: nothing to look up
            return thing if words(thing) else None
    return None


# "<what happened>, who can help?" / "... who handles that?" / "... who do I tell?"
_ASKING_TAIL = (
    r"(?:can|could|should|shall|do|does|would|will|handles|deals|takes|fixes|owns|manages|"
    r"knows|looks|to|is (?:responsible|in charge|the (?:right )?(?:person|contact|owner)))\b"
)
# "who should I talk to if I clicked a phishing link?"
_WHO_IF = re.compile(
    rf"\b(?:who|whom)\s+{_ASKING_TAIL}[^,.;:]*?\b(?:if|when|since|because|after|now that)\s+"
    r"(?P<clause>.+)$",
    re.IGNORECASE,
)
_SITUATION_THEN_WHO = re.compile(
    r"^(?P<clause>.+?)\s*[,.;:!?\-–—]+\s*(?:so\s+|and\s+|but\s+)?(?:who|whom)\s+"
    rf"(?P<tail>{_ASKING_TAIL}[^,.;:]*)$",
    re.IGNORECASE,
)
# The who-part's own words: never part of the situation ("..., who owns it?" asks about
# the clause, not about "owns").
_TAIL_NOISE = frozenset(
    "can could should would will do does did i we me us help tell call ask contact talk to "
    "about fix fixes handle handles deal deals with that this it report give handles "
    "own owns owner owners manage manages maintain maintains run runs know knows look looks "
    "after take takes care of is responsible in charge the right person for these those them"
    "".split()
)
# A who-part whose thing is only one of these refers back to the clause before it.
_PRONOUNS = frozenset("it this that these those them".split())
_CLAUSE_START = re.compile(r"^(?:i|i'm|im|my|we|we're|our|someone|somebody|the|a|an|it|there)\b")


@dataclass(frozen=True)
class Situation:
    text: str  # what happened, plus any content word of the who-part
    # The who-part names its thing only by a pronoun ("..., who owns it?"): the person
    # means something in the clause, but which thing is a guess.
    refers_back: bool = False


def match_situation(text: str) -> str | None:
    """The situation described in ``text`` when it ends or starts with a who-question.

    "I left my phone in a taxi, who can help?" -> "I left my phone in a taxi";
    "who do I contact if I lost my laptop" -> "I lost my laptop". Any content word of
    the who-part ("who can restore it?") is kept, its verb never ("..., who owns it?").
    None if it is not such a question.
    """
    found = situation_of(text)
    return found.text if found is not None else None


def situation_of(text: str) -> Situation | None:
    """:func:`match_situation`, and whether the who-part only says "it"/"this"/"that"."""
    text = _normalise(text)
    if len(text) > 300:
        return None
    body = _TRAIL.sub("", text)
    found = _WHO_IF.search(body)
    if found:
        clause = found["clause"].strip()
        return Situation(clause) if words(clause) else None
    found = _SITUATION_THEN_WHO.match(body)
    if not found:
        return None
    clause = found["clause"].strip()
    if not _CLAUSE_START.match(clause.lower()) and len(words(clause)) < 2:
        return None  # "hey, who deals with spam?": a greeting, not a situation
    tail = found["tail"].lower().split()
    extra = [w for w in found["tail"].split() if w.lower() not in _TAIL_NOISE]
    if not words(clause):
        return None
    return Situation(" ".join([clause, *extra]), bool(tail) and tail[-1] in _PRONOUNS)
