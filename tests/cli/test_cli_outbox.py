"""``helpdesk-bot outbox list|retry|drop`` and SQLite's one-process rule, as real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.matrix.content import message_content
from bot.outbox import Outbox, SendError
from bot.storage import Database
from bot.storage.migrate import upgrade
from tests.cli.test_cli_config import REPO, config_data, run_cli, write
from tests.unit.test_outbox import FakeTransport


async def _dead_letters(url: str) -> None:
    await upgrade(url)
    db = Database(url)
    try:
        async with db.sessions.begin() as session:
            for key in ("one", "two"):
                await Outbox.add(
                    session, txn_key=key, room_id=f"!{key}:x", content=message_content("private")
                )
        forbidden = SendError("403 M_FORBIDDEN", permanent=True)
        await Outbox(db).flush(FakeTransport(failures=[forbidden, forbidden]))
    finally:
        await db.close()


def test_cli_outbox_lists_retries_and_drops_dead_letters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}"
    asyncio.run(_dead_letters(url))
    path = str(write(tmp_path, config_data(url)))

    def cli(*args: str) -> tuple[int, str]:
        code = main(["outbox", *args, "--config", path])  # in-process: fast
        return code, capsys.readouterr().out

    code, out = cli("list")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and "!one:x" in lines[0] and "M_FORBIDDEN" in lines[0]
    assert "private" not in out
    first = lines[0].split("\t")[0]

    assert cli("retry", first) == (0, "1 dead letter(s) queued again\n")
    assert cli("drop", "--all") == (0, "1 dead letter(s) dropped\n")
    assert cli("list") == (0, "")
    code, out = cli("list", "--all")
    assert "dropped" in out and "!two:x" in out
    assert cli("retry", "999")[0] == 1


def test_cli_run_refuses_a_second_process_on_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.db'}"
    path = write(tmp_path, config_data(url))  # no homeserver: the first one keeps retrying
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HELPDESK_")}
    env["PYTHONPATH"] = str(REPO)
    first = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--config", str(path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "helpdesk.db.lock").exists():
            assert time.monotonic() < deadline and first.poll() is None, "first never started"
            time.sleep(0.2)
        second = run_cli("run", "--config", str(path), cwd=tmp_path)
        assert second.returncode == 1
        assert "another helpdesk-bot process is running on the SQLite database" in (
            second.stdout + second.stderr
        )
        assert first.poll() is None  # the first one is untouched
    finally:
        first.send_signal(signal.SIGTERM)
        try:
            first.wait(30)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()
