"""Accuracy of the matcher on a question set (used by a test and bench/ownership_accuracy.py).

A question set is YAML: ``questions: [{q: "who owns dns?", expect: "DNS and domains"}]``;
``expect: null`` marks an out-of-scope question that must get the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.features.ownership.matching import AreaView, MapIndex
from bot.features.ownership.phrasing import match_owner_question
from bot.features.ownership.yamlmap import parse_map


@dataclass
class Evaluation:
    in_scope: int = 0
    correct: int = 0
    ambiguous: int = 0  # asked "which one?" (not an answer, not wrong)
    wrong: int = 0  # named the wrong area: the worst outcome
    missed: int = 0  # fallback although the map has it
    out_of_scope: int = 0
    out_named_owner: int = 0  # an out-of-scope question answered with an owner
    failures: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 0.0

    def report(self) -> str:
        return (
            f"in scope: {self.correct}/{self.in_scope} correct ({self.accuracy:.1%}), "
            f"{self.ambiguous} asked which one, {self.missed} fell back, {self.wrong} WRONG; "
            f"out of scope: {self.out_of_scope}, owner named for {self.out_named_owner}"
        )


def index_from_file(path: Path) -> MapIndex:
    """An index of the map file, without a database."""
    parsed = parse_map(path.read_text(encoding="utf-8"))
    views = [
        AreaView(id=i, name=a.name, description=a.description, aliases=tuple(a.aliases),
                 team=a.team, owners=tuple(a.owners))
        for i, a in enumerate(parsed.areas)
    ]  # fmt: skip
    return MapIndex.build(views)


def thing_of(message: str) -> str | None:
    """What a chat message asks about: ``!owner X`` or a plain "who owns X?" question."""
    if message.startswith("!owner "):
        return message.removeprefix("!owner ").strip()
    return match_owner_question(message)


def evaluate(index: MapIndex, questions_path: Path) -> Evaluation:
    """Run every question of the set through phrasing and matching."""
    data = yaml.safe_load(questions_path.read_text(encoding="utf-8"))
    ev = Evaluation()
    for item in data["questions"]:
        message, expect = item["q"], item.get("expect")
        thing = thing_of(message)
        result = index.search(thing) if thing is not None else None
        kind = result.kind if result is not None else "unrecognised"
        named = result.best.area.name if result is not None and kind == "answer" else None
        if expect is None:
            ev.out_of_scope += 1
            if named is not None:
                ev.out_named_owner += 1
                ev.failures.append(f"OUT-OF-SCOPE ANSWERED {message!r} -> {named}")
            continue
        ev.in_scope += 1
        if named == expect:
            ev.correct += 1
        elif named is not None:
            ev.wrong += 1
            ev.failures.append(f"WRONG {message!r} -> {named} (expected {expect})")
        elif kind == "ambiguous":
            ev.ambiguous += 1
            names = [m.area.name for m in result.matches] if result else []
            ev.failures.append(f"ambiguous {message!r} -> {names} (expected {expect})")
        else:
            ev.missed += 1
            ev.failures.append(f"missed {message!r} ({kind}) (expected {expect})")
    return ev
