"""Migrate the database at start in a child process, so Alembic never loads into the bot.

Alembic and Mako cost the long-running process about 13 MB of resident memory that it
would keep for its whole life for one use at start (measured: ``docs/benchmarks.md``).
The child runs :func:`bot.storage.migrate.upgrade`; its failure is the start's failure.
A database already at the newest revision (every restart) needs no child at all: the
revision is read with plain SQL and compared with the head named in the revision files.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from sqlalchemy import text

import migrations
from bot.storage.engine import create_engine

_CHILD = (
    "import asyncio, os\n"
    "from bot.storage.migrate import upgrade\n"
    "asyncio.run(upgrade(os.environ['HELPDESK_MIGRATE_URL']))\n"
)


class MigrationFailed(RuntimeError):
    """The migration child process failed; the message ends with its last output."""


_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*[\"']([^\"']+)", re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*(?::[^=]*)?=(.*)$", re.MULTILINE)


def head_from_files() -> str | None:
    """The single head revision named by ``migrations/versions`` (None if unclear)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (Path(migrations.__file__).parent / "versions").glob("*.py"):
        if path.name.startswith("_"):
            continue
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            return None
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down is not None:
            parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def current_revision(url: str) -> str | None:
    """The database's revision, read with plain SQL (None: empty or unreadable)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except Exception:
        return None
    finally:
        await engine.dispose()


async def upgrade_database(url: str) -> None:
    """Bring the database to head: nothing to do at head, else a migration child."""
    head = head_from_files()
    if head is not None and await current_revision(url) == head:
        return
    await upgrade_in_child(url)


async def upgrade_in_child(url: str) -> None:
    """Upgrade the database at ``url`` to head in a separate Python process.

    The URL goes through the environment, never the command line (it may hold a
    password, and command lines are visible to every local user).

    Raises:
        MigrationFailed: the child exited with an error.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        env={**os.environ, "HELPDESK_MIGRATE_URL": url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await proc.communicate()
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        tail = output.decode(errors="replace").strip().splitlines()[-5:]
        raise MigrationFailed("database migration failed: " + " | ".join(tail))
