"""``helpdesk-bot tips validate FILE`` and ``tips preview --campaign NAME --day N``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.features.tips.lint import tip_warnings
from bot.features.tips.loader import CampaignFileError, load_campaigns
from bot.features.tips.render import tip_message
from bot.features.tips.schedule import local_today
from bot.messaging import Message, ToRoom, content_for, md


def cmd_validate(args: argparse.Namespace) -> int:
    """Print each problem (exit 1) or a summary of the campaigns and any warnings (exit 0)."""
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
    warnings = tip_warnings(campaigns)
    if warnings:
        print(f"{len(warnings)} warning(s):")
        for warning in warnings:
            print(f"  - {warning}")
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    """Print the post of one day as it will be sent (its Markdown; ``--html``: the HTML too)."""
    prefix = "!"
    if args.file:
        path = Path(args.file)
    else:
        from bot.settings import load_config

        settings = load_config(args.config)
        path, prefix = settings.tips.file, settings.bot.command_prefix
    try:
        campaigns = load_campaigns(path)
    except CampaignFileError as exc:
        print(f"{exc.source} has problems; run: helpdesk-bot tips validate", file=sys.stderr)
        return 1
    campaign = next((c for c in campaigns if c.name == args.campaign), None)
    if campaign is None:
        names = ", ".join(c.name for c in campaigns)
        print(f"no campaign {args.campaign!r} (campaigns: {names})", file=sys.stderr)
        return 1
    if not 1 <= args.day <= campaign.length:
        print(f"{campaign.name} has days 1 to {campaign.length}", file=sys.stderr)
        return 1
    run = campaign.current_or_next(local_today(campaign, datetime.now(UTC)))
    when = run[0] + timedelta(days=args.day - 1) if run else None
    text = md.with_prefix(tip_message(campaign, campaign.tips[args.day - 1], when=when), prefix)
    print(text)
    if args.html:
        print("\n--- HTML ---")
        print(content_for(Message(text, to=ToRoom("!preview"), key="preview"))["formatted_body"])
    return 0


def add_cli(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add ``tips validate FILE`` and ``tips preview``."""
    tips = subparsers.add_parser("tips", parents=[common], help="security tip campaigns")
    tips_sub = tips.add_subparsers(dest="tips_command", metavar="ACTION")
    tips_sub.required = True
    validate = tips_sub.add_parser(
        "validate", parents=[common], help="check a campaigns file and list every problem"
    )
    validate.add_argument("file", help="the campaigns file, e.g. config/tips.yaml")
    validate.set_defaults(func=cmd_validate)
    preview = tips_sub.add_parser(
        "preview", parents=[common], help="print one day's post as it will appear"
    )
    preview.add_argument("--campaign", required=True, help="the campaign's name")
    preview.add_argument("--day", required=True, type=int, help="the day number (1 = first)")
    preview.add_argument("--file", help="campaigns file (default: tips.file of the config)")
    preview.add_argument("--html", action="store_true", help="also print the HTML body")
    preview.set_defaults(func=cmd_preview)
