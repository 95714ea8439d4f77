"""``helpdesk-bot owners import|export`` and ``helpdesk-bot handbook``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from bot.clock import system_clock
from bot.settings import Settings, load_config


def add_cli(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    owners = subparsers.add_parser("owners", parents=[common], help="the responsibilities map")
    sub = owners.add_subparsers(dest="owners_command", metavar="ACTION")
    sub.required = True
    imp = sub.add_parser("import", parents=[common], help="upsert a YAML map (all or nothing)")
    imp.add_argument("file", help="the YAML map, e.g. config/responsibilities.yaml")
    imp.add_argument("--dry-run", action="store_true", help="print what would change only")
    imp.add_argument("--prune", action="store_true", help="remove areas absent from the file")
    imp.add_argument("--actor", help="who to record in the audit (default: cli:<login>)")
    imp.set_defaults(func=cmd_import)
    exp = sub.add_parser("export", parents=[common], help="write the map as YAML")
    exp.add_argument("file", nargs="?", help="output file (default: standard output)")
    exp.set_defaults(func=cmd_export)
    hb = subparsers.add_parser("handbook", parents=[common], help="render the map as Markdown")
    hb.add_argument("--out", help="output file (default: standard output)")
    hb.set_defaults(func=cmd_handbook)


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "actor", None):
        return str(args.actor)
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _write(target: str | None, text: str) -> None:
    if target:
        Path(target).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


async def _import(settings: Settings, text: str, args: argparse.Namespace) -> int:
    from bot.features.ownership.importer import import_map
    from bot.features.ownership.yamlmap import MapFileError
    from bot.storage import Database, migrate

    await migrate.upgrade(settings.database.url)
    db = Database(settings.database.url)
    try:
        async with db.sessions.begin() as session:
            plan = await import_map(
                session, text, actor=_actor(args), now=system_clock(),
                prune=args.prune, dry_run=args.dry_run, source=args.file,
            )  # fmt: skip
    except MapFileError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(("dry run, nothing written: " if args.dry_run else "imported: ") + plan.summary())
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = load_config(args.config)
    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    return asyncio.run(_import(settings, text, args))


async def _read(settings: Settings, what: str) -> str:
    from bot.features.ownership import repository
    from bot.features.ownership.handbook import render_handbook
    from bot.features.ownership.importer import export_map
    from bot.storage import Database, migrate

    await migrate.upgrade(settings.database.url)
    db = Database(settings.database.url)
    try:
        async with db.sessions() as session:
            if what == "export":
                return await export_map(session)
            return render_handbook(
                await repository.all_areas(session=session),
                await repository.all_teams(session=session),
                fallback_contact=settings.ownership.fallback_contact,
                now=system_clock(),
                prefix=settings.bot.command_prefix,
            )
    finally:
        await db.close()


def cmd_export(args: argparse.Namespace) -> int:
    _write(args.file, asyncio.run(_read(load_config(args.config), "export")))
    return 0


def cmd_handbook(args: argparse.Namespace) -> int:
    _write(args.out, asyncio.run(_read(load_config(args.config), "handbook")))
    return 0
