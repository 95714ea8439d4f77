"""Data at rest: everything the bot writes is readable by its own user only."""

from __future__ import annotations

import argparse
import logging
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.features.incidents.export import cli_export
from bot.paths import private_sqlite, private_store, set_private_umask, write_private
from bot.storage import Database, migrate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_security_private_umask(tmp_path: Path, loose_umask: None) -> None:
    set_private_umask()
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    assert mode(tmp_path / "f") == 0o600 and mode(tmp_path / "d") == 0o700


async def test_security_database_store_and_secrets_private(
    tmp_path: Path, loose_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    # A fresh database in a fresh directory (umask set first, as the bot does at start):
    # 0700 directory, 0600 file and journals.
    set_private_umask()
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'helpdesk.db'}"
    await migrate.upgrade(url)
    db = Database(url)
    async with db.sessions.begin() as session:
        await session.execute(text("SELECT 1"))
    await db.close()
    data = tmp_path / "data"
    assert mode(data) == 0o700
    for path in data.iterdir():
        assert mode(path) == 0o600, path

    # Pre-existing loose modes are tightened, with a warning naming the file.
    (data / "helpdesk.db").chmod(0o644)
    store = tmp_path / "store"
    store.mkdir(mode=0o755)
    (store / "crypto.db").write_text("keys")
    (store / "crypto.db").chmod(0o644)
    with caplog.at_level(logging.WARNING):
        private_sqlite(str(data / "helpdesk.db"))
        private_store(store)
    assert mode(data / "helpdesk.db") == 0o600
    assert mode(store) == 0o700 and mode(store / "crypto.db") == 0o600
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "helpdesk.db was readable by other users" in warned and "crypto.db" in warned

    # Secrets and exports.
    secret = tmp_path / "shared_secret"
    secret.write_text("old")
    secret.chmod(0o644)
    write_private(secret, "new")
    assert mode(secret) == 0o600 and secret.read_text() == "new"


async def test_security_export_file_private(
    tmp_path: Path, loose_umask: None, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the export file does not depend on the database")
    config = tmp_path / "config.yaml"
    config.write_text(
        "matrix: {homeserver: 'http://127.0.0.1:1', user_id: '@b:x', password: 'xxxxxxxx'}\n"
        "rooms: {helpdesk: '#h:x', triage: '#t:x'}\n"
        f"database: {{url: '{db_url}'}}\n"
    )
    from tests.incidents.conftest import Harness

    db = Database(db_url)
    harness = Harness(db)
    await harness.say("!incident device lost my laptop")
    await db.close()
    out = tmp_path / "inc.md"
    args = argparse.Namespace(incident="INC-1", output=str(out), config=str(config))
    assert await cli_export(args) == 0
    assert mode(out) == 0o600 and "laptop" in out.read_text()
