"""What `helpdesk-bot run` on SQLite keeps out of its memory (docs/benchmarks.md, "Memory").

Each package named here was loaded by the running bot once and cost it resident memory for
nothing it needed on the way of a message: `cryptography` about 9 MB (pycryptodome, which
matrix-nio loads anyway, has the same primitives), the PostgreSQL dialect with all its
drivers' modules about 2 MB on a SQLite database, the web pages' templates and charts
about 3 MB before any page is served, rapidfuzz 2.7 MB for the one ratio of a typo.
Importing one of them again fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What `run` imports before and while it serves messages, on a SQLite database.
_PROBE = """
import asyncio, json, sys, tempfile
from pathlib import Path
import bot.app, bot.cli
from bot.features import plugin_classes
from bot.storage import Database
from bot.storage.dialect import insert_for
from bot.storage.models import KeyValue

plugin_classes()

async def use_database(path):
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.sessions() as session:
            insert_for(session, KeyValue)
            await db.ping()
    finally:
        await db.close()

with tempfile.TemporaryDirectory() as tmp:
    asyncio.run(use_database(Path(tmp) / "bot.db"))
print(json.dumps(sorted(sys.modules)))
"""

NOT_IN_THE_RUNNING_BOT = (
    "cryptography",
    "bcrypt",
    "sqlalchemy.dialects.postgresql",
    "asyncpg",
    "alembic",
    "mako",
    "jinja2",
    "pygal",
    "rapidfuzz",
)


def test_lean_imports_running_bot_on_sqlite_leaves_out_what_it_does_not_need() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out.splitlines()[-1])
    assert "bot.features.ownership" in loaded  # the probe did import the features
    unwanted = sorted(
        name
        for name in loaded
        if any(name == top or name.startswith(top + ".") for top in NOT_IN_THE_RUNNING_BOT)
    )
    assert not unwanted, f"imported by the running bot, costing resident memory: {unwanted}"
