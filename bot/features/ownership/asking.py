"""From a chat message to a search: which question it is, and which way to rank.

Two shapes of question reach the map:

* a *look-up* names the thing: "who owns DNS?", ``!owner release signing``; the areas
  are ranked by how much of the thing they cover (``MapIndex.search``);
* a *situation* says what happened: "I left my phone in a taxi, who can help?",
  "who do I contact if I lost my laptop"; the areas are ranked by BM25F over names,
  aliases, ``covers`` and descriptions (``MapIndex.search(..., situational=True)``).

A look-up that finds nothing but reads like a clause ("who handles a mail I got")
gets a second chance as a situation. Either way only an anchored area is named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.features.ownership.matching import MapIndex, SearchResult
from bot.features.ownership.phrasing import match_owner_question, situation_of

_CLAUSE = re.compile(r"\b(?:i|i'm|my|me|we|someone|somebody|if|when|got)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    thing: str
    situational: bool
    # Asked about "it"/"this"/"that" after the situation: with no confident match the
    # answer asks which thing, instead of quoting the question back as a subject.
    refers_back: bool = False


def recognise(message: str) -> Question | None:
    """The question a plain chat message asks, if it asks the map anything."""
    situation = situation_of(message)
    if situation is not None:
        return Question(situation.text, True, situation.refers_back)
    thing = match_owner_question(message)
    return Question(thing, False) if thing is not None else None


def of_command(args: str) -> Question:
    """``!owner <args>``: a look-up (that may turn out to be a situation)."""
    return Question(args.strip(), False)


def search(index: MapIndex, question: Question) -> SearchResult:
    """Search ``index`` the way ``question`` needs."""
    if question.situational:
        return index.search(question.thing, situational=True)
    result = index.search(question.thing)
    if result.kind == "none" and _CLAUSE.search(question.thing):
        second = index.search(question.thing, situational=True)
        if second.kind != "none":
            return second
    return result
