"""``helpdesk-bot``: run, check-config, db upgrade|downgrade|current, demo, and feature tools."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Sequence

from bot.config import ConfigError, Settings, load_config
from bot.features import all_features

EXIT_CONFIG = 2


def _load(args: argparse.Namespace) -> Settings:
    return load_config(args.config)


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import run_app
    from bot.logs import setup_logging
    from bot.paths import set_private_umask

    set_private_umask()
    settings = _load(args)
    setup_logging(settings)
    return asyncio.run(run_app(settings))


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load(args)
    print(
        f"configuration OK: {settings.matrix.user_id} on {settings.matrix.homeserver}, "
        f"rooms {settings.rooms.helpdesk} and {settings.rooms.triage}"
    )
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from bot.storage import migrate

    settings = _load(args)
    url = settings.database.url
    if args.db_command == "upgrade":
        asyncio.run(migrate.upgrade(url, args.revision))
        print(f"database upgraded to {args.revision}")
    elif args.db_command == "downgrade":
        asyncio.run(migrate.downgrade(url, args.revision))
        print(f"database downgraded to {args.revision}")
    else:
        print(asyncio.run(migrate.current(url)) or "empty (no migrations applied)")
    return 0


def cmd_rooms(args: argparse.Namespace) -> int:
    from bot.matrix.rooms import repin

    settings = _load(args)
    try:
        old, new = asyncio.run(repin(settings))
    except LookupError as exc:
        print(f"cannot repin: {exc}", file=sys.stderr)
        return 1
    if old == new:
        print(f"triage room unchanged: {new}")
    else:
        print(f"triage room pinned: {new} (was {old or 'not pinned'}); restart the bot")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(args.dir, port=args.port, web_port=args.web_port)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with every feature's subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        "-c",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $HELPDESK_CONFIG, else config/config.yaml)",
    )
    parser = argparse.ArgumentParser(
        prog="helpdesk-bot",
        parents=[common],
        description="Security helpdesk bot for Matrix.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("run", parents=[common], help="run the bot").set_defaults(func=cmd_run)
    sub.add_parser(
        "check-config", parents=[common], help="validate the configuration and exit (2 on errors)"
    ).set_defaults(func=cmd_check_config)

    db = sub.add_parser("db", parents=[common], help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_sub.required = True
    up = db_sub.add_parser("upgrade", parents=[common], help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", parents=[common], help="revert migrations")
    down.add_argument("revision")
    db_sub.add_parser("current", parents=[common], help="show the applied revision")
    db.set_defaults(func=cmd_db)

    rooms = sub.add_parser("rooms", parents=[common], help="the pinned triage room")
    rooms_sub = rooms.add_subparsers(dest="rooms_command", metavar="ACTION")
    rooms_sub.required = True
    rooms_sub.add_parser("repin", parents=[common], help="pin the room rooms.triage points to now")
    rooms.set_defaults(func=cmd_rooms)

    demo = sub.add_parser("demo", help="start a local Synapse and the bot, for a try-out")
    demo.add_argument("--dir", default="demo", help="where the demo keeps its state")
    demo.add_argument("--port", type=int, default=8008, help="homeserver port")
    demo.add_argument("--web-port", type=int, default=8080, help="health endpoint port")
    demo.set_defaults(func=cmd_demo)

    for feature in all_features():
        if feature.add_cli is not None:
            feature.add_cli(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``helpdesk-bot`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "config"):
        args.config = None
    try:
        result = args.func(args)
        if inspect.isawaitable(result):
            result = asyncio.run(result)
        return int(result or 0)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    sys.exit(main())
