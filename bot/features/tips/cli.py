"""``helpdesk-bot tips validate FILE``: every problem of a campaigns file, with its place."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.features.tips.loader import CampaignFileError, load_campaigns


def cmd_validate(args: argparse.Namespace) -> int:
    """Print each problem (exit 1) or a summary of the campaigns (exit 0)."""
    path = Path(args.file)
    try:
        campaigns = load_campaigns(path)
    except CampaignFileError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{path}: OK, {len(campaigns)} campaign(s)")
    for c in campaigns:
        span = (
            f"every year {c.start.strftime('%d %b')}–{c.end.strftime('%d %b')}"
            if c.yearly
            else f"{c.start.isoformat()} to {c.end.isoformat()}"
        )
        rooms = ", ".join(c.rooms)
        print(
            f"  {c.name}: {len(c.tips)} tips, {span}, at {c.at.strftime('%H:%M')} "
            f"{c.timezone}, in {rooms}"
        )
    return 0


def add_cli(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add ``tips validate FILE``."""
    tips = subparsers.add_parser("tips", parents=[common], help="security tip campaigns")
    tips_sub = tips.add_subparsers(dest="tips_command", metavar="ACTION")
    tips_sub.required = True
    validate = tips_sub.add_parser(
        "validate", parents=[common], help="check a campaigns file and list every problem"
    )
    validate.add_argument("file", help="the campaigns file, e.g. config/tips.yaml")
    validate.set_defaults(func=cmd_validate)
