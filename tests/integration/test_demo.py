"""`helpdesk-bot demo`: a person can log in to the local homeserver and talk to the bot."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.dev.devserver import LocalSynapse, free_port
from tests.support.botworld import ROOT, wait_ready
from tests.support.mxclient import MatrixUser, text_of
from tests.support.replies import is_reply_from

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_demo_sets_up_everything_and_answers(tmp_path: Path) -> None:
    port, web_port = free_port(), free_port()
    demo_dir = tmp_path / "demo"
    log = (tmp_path / "demo.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "demo",
            "--dir",
            str(demo_dir),
            "--port",
            str(port),
            "--web-port",
            str(web_port),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        await wait_ready(web_port, timeout=120)
        printed = (tmp_path / "demo.log").read_text()
        passwords = json.loads((demo_dir / "accounts.json").read_text())
        assert passwords["alice"] in printed  # the credentials are shown to the person
        secret = (demo_dir / "shared_secret").read_text()
        hs = LocalSynapse(demo_dir / "synapse", port, shared_secret=secret)  # to log in
        login = await asyncio.to_thread(hs.register, "alice", passwords["alice"])
        alice = MatrixUser(hs.url, login["user_id"], login["access_token"])
        try:
            room = await alice.join("#security-helpdesk:localhost")
            question = await alice.send(room, "!ping")
            assert await alice.wait_for(is_reply_from("@helpdesk:localhost", question), 30)
            question = await alice.send(room, "who handles phishing?")
            answer = await alice.wait_for(is_reply_from("@helpdesk:localhost", question), 30)
            assert answer is not None and "phishing" in text_of(answer).lower()
        finally:
            await alice.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        log.close()
    assert code == 0, (tmp_path / "demo.log").read_text()[-3000:]
    # The demo's homeserver went down with it.
    with pytest.raises(OSError):
        import urllib.request

        urllib.request.urlopen(f"http://127.0.0.1:{port}/_matrix/client/versions", timeout=2)
