"""``INSERT ... ON CONFLICT`` for the session's dialect (SQLite and PostgreSQL share it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An insert of ``table`` (a mapped class) that offers ``on_conflict_do_*``.

    Both dialects spell it alike, so one statement replaces "read, then add or change".
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
