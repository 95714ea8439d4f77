"""Accuracy of "who owns X?" per kind of question, on both maps, against a baseline.

Maps and question sets (the second map and its questions are never tuned on):

* config/responsibilities.yaml with tests/ownership/questions.yaml and
  tests/ownership/heldout_questions.yaml (situational questions and traps);
* tests/ownership/heldout_map.yaml with tests/ownership/heldout_map_questions.yaml.

For each: per-kind accuracy (for trap and out_of_scope: share with no owner named),
wrong owners named, latency p50/p99; and the same for a plain rapidfuzz token-set
baseline (best ``token_set_ratio`` over names and aliases >= 70 names the owner).

python bench/ownership_accuracy.py [-v]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz  # noqa: E402

from tests.ownership.evaluation import (  # noqa: E402
    Answerer,
    Evaluation,
    evaluate,
    index_from_file,
    thing_of,
    views_from_file,
)

TESTS = ROOT / "tests" / "ownership"
SETS = [
    ("shipped map", ROOT / "config/responsibilities.yaml",
     [TESTS / "questions.yaml", TESTS / "heldout_questions.yaml"]),
    ("held-out map", TESTS / "heldout_map.yaml", [TESTS / "heldout_map_questions.yaml"]),
]  # fmt: skip
KINDS = (
    "exact",
    "alias",
    "description",
    "typo",
    "phrasing",
    "situational",
    "in_scope",
    "trap",
    "out_of_scope",
)


def baseline(map_path: Path) -> Answerer:
    """rapidfuzz token_set_ratio of the whole question against every name and alias."""
    views = views_from_file(map_path)

    def answer(message: str) -> tuple[str, str | None, list[str]]:
        thing = thing_of(message) or message
        best, name = 0.0, None
        for v in views:
            for key in (v.name, *v.aliases):
                score = fuzz.token_set_ratio(thing.lower(), key.lower())
                if score > best:
                    best, name = score, v.name
        return ("answer", name, []) if best >= 70 else ("none", None, [])

    return answer


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def show(label: str, ev: Evaluation) -> None:
    kinds = "  ".join(
        f"{k} {ev.by_kind[k][0]}/{ev.by_kind[k][1]} ({ev.kind_accuracy(k):.0%})"
        for k in KINDS
        if k in ev.by_kind
    )
    print(f"  {label:<9} {kinds}")
    print(
        f"  {'':<9} in scope {ev.accuracy:.1%}, WRONG owners {ev.wrong}, owners named for "
        f"traps/out of scope {ev.out_named_owner}, latency p50 {pct(ev.latencies_ms, 50):.3f} "
        f"ms p99 {pct(ev.latencies_ms, 99):.3f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    bad = 0
    for title, map_path, question_files in SETS:
        index = index_from_file(map_path)
        print(f"{title} ({map_path.relative_to(ROOT)}, {len(index)} areas):")
        for questions in question_files:
            ours = evaluate(index, questions)
            base = evaluate(baseline(map_path), questions)
            print(f" {questions.relative_to(ROOT)}:")
            show("bot", ours)
            show("baseline", base)
            bad += ours.wrong + ours.out_named_owner
            if args.verbose or ours.wrong or ours.out_named_owner:
                for line in ours.failures:
                    print("    " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
