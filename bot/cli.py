"""``helpdesk-bot``: run, check-config, db upgrade|downgrade|current, demo, and feature tools."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Sequence

from bot.configfile import ConfigError
from bot.features import plugin_classes
from bot.matrix.cli import add_crypto_cli
from bot.settings import Settings, load_config

EXIT_CONFIG = 2

Subparsers = argparse._SubParsersAction  # the type argparse gives no public name


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
    from bot.features.incidents.playbooks import check_playbooks

    settings = _load(args)
    check_playbooks(settings)  # raises ConfigError naming each problem and its line
    print(
        f"configuration OK: {settings.matrix.user_id} on {settings.matrix.homeserver}, "
        f"rooms {settings.rooms.helpdesk} and {settings.rooms.triage}"
    )
    return 0


def cmd_db_copy(args: argparse.Namespace) -> int:
    from bot.storage.copy import CopyError, copy_database

    try:
        counts = asyncio.run(copy_database(args.source, args.target))
    except CopyError as exc:
        print(f"db copy refused: {exc}", file=sys.stderr)
        return 1
    for table, rows in counts.items():
        print(f"{table}: {rows} rows")
    print(f"copied {len(counts)} tables, {sum(counts.values())} rows; counts verified")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from bot.storage import migrate

    if args.db_command == "copy":
        return cmd_db_copy(args)
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


def cmd_outbox(args: argparse.Namespace) -> int:
    from bot.outbox import admin
    from bot.storage import Database

    settings = _load(args)

    async def go() -> int:
        db = Database(settings.database.url)
        try:
            if args.outbox_command == "list":
                states = ("dead", "dropped") if args.all else ("dead",)
                rows = await admin.list_rows(db, states=states)
                for row in rows:
                    print(row.line())
                print(f"{len(rows)} message(s)", file=sys.stderr)
                return 0
            ids = None if args.all else args.ids
            if not args.all and not ids:
                print("name the messages (their #numbers) or give --all", file=sys.stderr)
                return EXIT_CONFIG
            action = admin.retry if args.outbox_command == "retry" else admin.drop
            count = await action(db, ids)
            verb = "queued again" if args.outbox_command == "retry" else "dropped"
            print(f"{count} dead letter(s) {verb}")
            return 0 if count or args.all else 1
        finally:
            await db.close()

    return asyncio.run(go())


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
    from bot.dev.demo import run_demo

    return run_demo(args.dir, port=args.port, web_port=args.web_port)


def _add_db(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    db = sub.add_parser("db", parents=[common], help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION")
    db_sub.required = True
    up = db_sub.add_parser("upgrade", parents=[common], help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    down = db_sub.add_parser("downgrade", parents=[common], help="revert migrations")
    down.add_argument("revision")
    db_sub.add_parser("current", parents=[common], help="show the applied revision")
    copy = db_sub.add_parser(
        "copy", help="copy every table to another (empty) database, e.g. SQLite to PostgreSQL"
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL")
    copy.add_argument("--to", dest="target", required=True, metavar="URL")
    db.set_defaults(func=cmd_db)


def _add_outbox(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    outbox = sub.add_parser("outbox", parents=[common], help="dead letters: list, retry, drop")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", metavar="ACTION")
    outbox_sub.required = True
    listing = outbox_sub.add_parser("list", parents=[common], help="messages given up on")
    listing.add_argument("--all", action="store_true", help="dropped ones too")
    for name, what in (("retry", "send again"), ("drop", "never send (erases the text)")):
        action = outbox_sub.add_parser(name, parents=[common], help=f"{what}: dead letters")
        action.add_argument("ids", nargs="*", type=lambda v: int(v.lstrip("#")), metavar="N")
        action.add_argument("--all", action="store_true", help="every dead letter")
    outbox.set_defaults(func=cmd_outbox)


def _add_rooms_and_demo(sub: Subparsers, common: argparse.ArgumentParser) -> None:
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
    _add_db(sub, common)
    _add_outbox(sub, common)
    _add_rooms_and_demo(sub, common)
    add_crypto_cli(sub, common)  # crypto setup | status (bot/matrix/e2ee)
    for plugin in plugin_classes():
        plugin.add_cli(sub, common)
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
