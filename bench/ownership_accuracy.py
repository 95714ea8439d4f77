"""Accuracy of "who owns X?" on the question set, against the example map.

python bench/ownership_accuracy.py [--map config/responsibilities.yaml]
                                   [--questions tests/ownership/questions.yaml] [-v]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.features.ownership.evaluation import evaluate, index_from_file  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", default=str(ROOT / "config" / "responsibilities.yaml"))
    parser.add_argument("--questions", default=str(ROOT / "tests/ownership/questions.yaml"))
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    ev = evaluate(index_from_file(Path(args.map)), Path(args.questions))
    print(ev.report())
    print(f"in-scope accuracy: {ev.accuracy:.1%}")
    print(f"out-of-scope questions that named an owner: {ev.out_named_owner}")
    if args.verbose or ev.wrong or ev.out_named_owner:
        for line in ev.failures:
            print("  " + line)
    return 1 if ev.wrong or ev.out_named_owner else 0


if __name__ == "__main__":
    sys.exit(main())
