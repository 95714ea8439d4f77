"""``INSERT ... ON CONFLICT`` for the session's dialect (SQLite and PostgreSQL share it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An insert of ``table`` (a mapped class) that offers ``on_conflict_do_*``.

    Both dialects spell it alike, so one statement replaces "read, then add or change".
    """
    if session.get_bind().dialect.name == "postgresql":
        # Imported here: on SQLite the PostgreSQL dialect (every driver's module) would
        # cost the running bot about 2 MB for nothing; on PostgreSQL the engine has it.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)
