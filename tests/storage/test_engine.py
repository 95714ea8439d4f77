"""The engine keeps statement parameters (people's text) out of errors and logs."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from bot.storage import Database
from bot.storage.models import KeyValue


async def test_engine_errors_never_carry_statement_parameters(db: Database) -> None:
    secret = "my password is hunter2"
    with pytest.raises(DBAPIError) as raised:
        async with db.sessions.begin() as session:
            session.add(KeyValue(key="k", value=secret))
            await session.flush()
            session.add(KeyValue(key="k", value=secret))  # the same key: IntegrityError
            await session.flush()
    assert secret not in str(raised.value)


def test_engine_head_from_files_matches_alembic() -> None:
    """A restart at head skips the migration child: both must agree on the head."""
    from bot.storage.migrate import head_revision
    from bot.storage.upgrade import head_from_files

    assert head_from_files() == head_revision()
