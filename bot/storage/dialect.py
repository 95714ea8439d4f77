"""``INSERT ... ON CONFLICT`` for the session's dialect (SQLite and PostgreSQL share it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the session's database.

    Both dialects spell it alike, so one statement replaces "read, then add or change".
    """
    return insert_on(dialect_of(session), table)


def dialect_of(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``: the key of statements built once per dialect."""
    return str(session.get_bind().dialect.name)


def insert_on(dialect: str, table: Any) -> Any:
    """:func:`insert_for` by dialect name (for statements built once and cached)."""
    if dialect == "postgresql":
        # Imported here: on SQLite the PostgreSQL dialect (every driver's module) would
        # cost the running bot about 2 MB for nothing; on PostgreSQL the engine has it.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)
