"""Run Alembic migrations programmatically (at start, and for ``helpdesk-bot db ...``)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import migrations


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged ``migrations`` directory and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    # '%' is Alembic's interpolation character; passwords may contain it.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """The newest revision shipped with this version of the bot."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


# Alembic keeps its running context in module globals: one migration per process at a
# time (across processes, PostgreSQL's advisory lock in env.py serialises them).
_ALEMBIC = threading.Lock()


def _upgrade(url: str, revision: str) -> None:
    with _ALEMBIC:
        command.upgrade(alembic_config(url), revision)


def _downgrade(url: str, revision: str) -> None:
    with _ALEMBIC:
        command.downgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``.

    Alembic's async ``env.py`` starts its own event loop, so it runs in a worker thread.
    """
    await asyncio.to_thread(_upgrade, url, revision)


async def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision``."""
    await asyncio.to_thread(_downgrade, url, revision)


async def current(url: str) -> str | None:
    """The revision the database at ``url`` is at (None when empty)."""
    from sqlalchemy import text

    from bot.storage.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            try:
                result = await conn.execute(text("SELECT version_num FROM alembic_version"))
            except Exception:
                return None
            return result.scalar()
    finally:
        await engine.dispose()
