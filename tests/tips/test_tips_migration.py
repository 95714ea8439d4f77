"""0012_tips_live: old unkeyed ✅ hashes keep their counts but can no longer be linked."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.storage import migrate
from bot.storage.engine import create_engine
from tests.support.databases import create_pg_database, drop_pg_database, pg_admin_url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        return
    request.getfixturevalue("postgres_url")
    url = asyncio.run(create_pg_database(pg_admin_url()))
    yield url
    asyncio.run(drop_pg_database(pg_admin_url(), url))


async def test_tips_migration_carries_counts_not_links(empty_url: str) -> None:
    await migrate.upgrade(empty_url, "0006_intake_incident")
    old = [hashlib.sha256(f"1:@u{i}:localhost".encode()).hexdigest() for i in range(3)]
    engine = create_engine(empty_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO tip_posts (id, campaign, local_date, room_id, day, status, "
                    "claimed_at) VALUES (1, 'month', '2026-12-01', '!r:x', 1, 'posted', "
                    "'2026-12-01 08:00:00')"
                )
            )
            for h in old:
                await conn.execute(
                    text(
                        "INSERT INTO tip_done (post_id, reactor, reacted_at) "
                        "VALUES (1, :h, '2026-12-01 09:00:00')"
                    ),
                    {"h": h},
                )
        await migrate.upgrade(empty_url, "0012_tips_live")
        async with engine.connect() as conn:
            rows = list(
                await conn.execute(text("SELECT kind, campaign, post_id, marker FROM tip_marks"))
            )
        assert len(rows) == 3 and {r[0] for r in rows} == {"done"}
        assert {r[1] for r in rows} == {"month"} and {r[2] for r in rows} == {1}
        assert not {r[3] for r in rows} & set(old)  # the recomputable hashes are gone
        await migrate.downgrade(empty_url, "0006_intake_incident")
        async with engine.connect() as conn:
            count = await conn.scalar(text("SELECT count(*) FROM tip_done"))
        assert count == 3
    finally:
        await engine.dispose()
