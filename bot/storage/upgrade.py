"""Migrate the database at start in a child process, so Alembic never loads into the bot.

Alembic and Mako cost the long-running process about 13 MB of resident memory that it
would keep for its whole life for one use at start (measured: ``docs/benchmarks.md``).
The child runs :func:`bot.storage.migrate.upgrade`; its failure is the start's failure.
"""

from __future__ import annotations

import asyncio
import os
import sys

_CHILD = (
    "import asyncio, os\n"
    "from bot.storage.migrate import upgrade\n"
    "asyncio.run(upgrade(os.environ['HELPDESK_MIGRATE_URL']))\n"
)


class MigrationFailed(RuntimeError):
    """The migration child process failed; the message ends with its last output."""


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
