"""Accuracy of the matcher on a question set (used here and by bench/ownership_accuracy.py).

A question set is YAML: ``questions: [{q: "who owns dns?", expect: "DNS and domains",
kind: alias}]``; ``expect`` may list several acceptable areas; ``expect: null`` marks a
question that must get no owner (kinds ``trap`` and ``out_of_scope``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.features.ownership import asking
from bot.features.ownership.matching import AreaView, MapIndex
from bot.features.ownership.yamlmap import parse_map

# A matcher under test: message -> (kind, area name named or None, candidate names)
Answerer = Callable[[str], tuple[str, str | None, list[str]]]


@dataclass
class Evaluation:
    in_scope: int = 0
    correct: int = 0
    ambiguous: int = 0  # asked "which one?" (not an answer, not wrong)
    wrong: int = 0  # named the wrong area: the worst outcome
    missed: int = 0  # fallback although the map has it
    out_of_scope: int = 0
    out_named_owner: int = 0  # an out-of-scope question (or trap) answered with an owner
    failures: list[str] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [right, total]
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.in_scope if self.in_scope else 0.0

    def kind_accuracy(self, kind: str) -> float:
        right, total = self.by_kind.get(kind, [0, 0])
        return right / total if total else 0.0

    def report(self) -> str:
        return (
            f"in scope: {self.correct}/{self.in_scope} correct ({self.accuracy:.1%}), "
            f"{self.ambiguous} asked which one, {self.missed} fell back, {self.wrong} WRONG; "
            f"out of scope: {self.out_of_scope}, owner named for {self.out_named_owner}"
        )


def views_from_file(path: Path) -> list[AreaView]:
    """The areas of a map file, without a database."""
    parsed = parse_map(path.read_text(encoding="utf-8"))
    return [
        AreaView(id=i, name=a.name, description=a.description, aliases=tuple(a.aliases),
                 team=a.team, owners=tuple(a.owners), covers=tuple(a.covers))
        for i, a in enumerate(parsed.areas)
    ]  # fmt: skip


def index_from_file(path: Path) -> MapIndex:
    """An index of the map file, without a database."""
    return MapIndex.build(views_from_file(path))


def question_of(message: str) -> asking.Question | None:
    """What a chat message asks about: ``!owner X`` or a plain question."""
    if message.startswith("!owner "):
        return asking.of_command(message.removeprefix("!owner "))
    return asking.recognise(message)


def thing_of(message: str) -> str | None:
    """The thing a message asks about (None: not recognised as a question)."""
    question = question_of(message)
    return question.thing if question is not None else None


def answerer(index: MapIndex) -> Answerer:
    """The bot's own matcher as an :data:`Answerer`."""

    def answer(message: str) -> tuple[str, str | None, list[str]]:
        question = question_of(message)
        if question is None:
            return "unrecognised", None, []
        result = asking.search(index, question)
        named = result.best.area.name if result.kind == "answer" and result.best else None
        return result.kind, named, [m.area.name for m in result.matches]

    return answer


def evaluate(index: MapIndex | Answerer, questions_path: Path) -> Evaluation:
    """Run every question of the set through recognition and matching."""
    answer = answerer(index) if isinstance(index, MapIndex) else index
    data = yaml.safe_load(questions_path.read_text(encoding="utf-8"))
    ev = Evaluation()
    for item in data["questions"]:
        message, expect = item["q"], item.get("expect")
        kind_label = item.get("kind") or ("out_of_scope" if expect is None else "in_scope")
        t0 = time.perf_counter_ns()
        kind, named, candidates = answer(message)
        ev.latencies_ms.append((time.perf_counter_ns() - t0) / 1e6)
        tally = ev.by_kind.setdefault(kind_label, [0, 0])
        tally[1] += 1
        if expect is None:
            ev.out_of_scope += 1
            if named is not None:
                ev.out_named_owner += 1
                ev.failures.append(f"OWNER NAMED ({kind_label}) {message!r} -> {named}")
            else:
                tally[0] += 1
            continue
        expected = [expect] if isinstance(expect, str) else list(expect)
        ev.in_scope += 1
        if named in expected:
            ev.correct += 1
            tally[0] += 1
        elif named is not None:
            ev.wrong += 1
            ev.failures.append(f"WRONG ({kind_label}) {message!r} -> {named} (expected {expect})")
        elif kind == "ambiguous":
            ev.ambiguous += 1
            ev.failures.append(f"ambiguous {message!r} -> {candidates} (expected {expect})")
        else:
            ev.missed += 1
            ev.failures.append(f"missed ({kind_label}) {message!r} ({kind}) (expected {expect})")
    return ev
