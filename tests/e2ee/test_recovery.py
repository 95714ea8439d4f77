"""Lost store: with the recovery key the same identity signs the new device; without it,
the bot says so plainly and makes no second identity."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from bot.dev.devserver import LocalSynapse
from tests.support.botworld import ROOT, BotWorld, InProcessBot
from tests.support.e2ee_user import E2EEUser
from tests.support.mxclient import MatrixUser

pytestmark = pytest.mark.integration


async def _cli(world: BotWorld, *args: str) -> tuple[int, str]:
    config = world.write_config()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        "--config",
        str(config),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def _identity(user: MatrixUser, bot: str) -> tuple[str, dict]:
    keys = await user.request("POST", "/_matrix/client/v3/keys/query", {"device_keys": {bot: []}})
    (master,) = keys["master_keys"][bot]["keys"].values()
    return master, keys


def _signed_by_ssk(keys: dict, bot: str, device_id: str) -> bool:
    (ssk_id,) = keys["self_signing_keys"][bot]["keys"]
    return ssk_id in keys["device_keys"][bot][device_id].get("signatures", {}).get(bot, {})


async def _readyz(world: BotWorld) -> dict:
    """/readyz once the bot has finished starting (its outbox waits for the rooms first)."""
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while True:
            async with http.get(f"http://127.0.0.1:{world.web_port}/readyz") as response:
                body = await response.json()
            if body["status"] != "not ready" or time.monotonic() > deadline:
                return body
            await asyncio.sleep(0.2)


async def test_lost_store_with_recovery_key_keeps_the_identity_and_the_history(
    world: BotWorld, synapse: LocalSynapse, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out = await _cli(world, "crypto", "setup")
    assert code == 0, out
    found = re.search(r"^ {4}(Es\S{2}(?: \S{1,4})+)$", out, re.MULTILINE)
    assert found, out
    recovery_key = found.group(1)
    assert "HELPDESK_MATRIX__RECOVERY_KEY" in out
    master, keys = await _identity(world.lead, world.bot_user_id)
    store = world.dir / "store"

    with_key = world.settings(matrix={"recovery_key": recovery_key})
    bot = InProcessBot(with_key)
    app = await bot.start()
    reporter = await E2EEUser.create(synapse, "reporter-backup", tmp_path / "reporter")
    try:
        first_device = app.matrix.client.device_id
        assert app.matrix.e2ee.status()["secret_storage"] == "ready"
        # A message before the loss: its room key goes to the server-side backup.
        room_id = await reporter.create_encrypted_dm(world.bot_user_id)
        await reporter.wait_joined(room_id, world.bot_user_id)
        secret_text = "the incident started at 09:14 on the build server"
        old_event = await reporter.send(room_id, secret_text)
        session_id = reporter.client.olm.outbound_group_sessions[room_id].id
        deadline = time.monotonic() + 30
        while session_id not in app.matrix.e2ee.backup.uploaded:
            assert time.monotonic() < deadline, "the room key was never backed up"
            await asyncio.sleep(0.2)
    finally:
        await reporter.close()
        await bot.stop()
    shutil.rmtree(store)

    # Without the recovery key: no second identity, and the reason in plain words.
    bot = InProcessBot(world.settings())
    app = await bot.start()
    try:
        lost_device = app.matrix.client.device_id
        assert lost_device != first_device
        problem = app.matrix.e2ee.status()["problem"]
        assert "recovery_key" in problem and "will not create a second identity" in problem
        assert (await _identity(world.lead, world.bot_user_id))[0] == master
        ready = await _readyz(world)
        assert ready["status"] == "degraded" and ready["checks"]["cross_signed"] is False
    finally:
        await bot.stop()
    shutil.rmtree(store)

    # With it: a new device, signed by the same master key, unattended.
    bot = InProcessBot(with_key)
    app = await bot.start()
    try:
        new_device = app.matrix.client.device_id
        assert new_device not in (first_device, lost_device)
        again, keys = await _identity(world.lead, world.bot_user_id)
        assert again == master
        assert _signed_by_ssk(keys, world.bot_user_id, new_device)
        assert not _signed_by_ssk(keys, world.bot_user_id, lost_device)
        assert app.matrix.e2ee.status()["cross_signed"]
        assert (await _readyz(world))["status"] == "ready"
        # The message sent before the loss is readable again, from the key backup.
        e2ee = app.matrix.e2ee
        source = await e2ee.api.request("GET", f"/rooms/{quote(room_id)}/event/{old_event}")
        assert e2ee.undecryptable.decrypt(room_id, source) is None  # the store is new
        readable = await e2ee.read(room_id, source)
        assert readable is not None and readable["content"]["body"] == secret_text
        assert e2ee.backup.restored == 1
    finally:
        await bot.stop()

    code, out = await _cli(world, "crypto", "status")
    assert code == 0, out
    assert f"Device: {new_device}" in out and "Cross-signed by the bot's identity: yes" in out
    # The lead (a plain client, no cross-signing) is a triage member with unsigned devices.
    assert f"  {world.lead.user_id}: " in out
    assert " ".join(master[i : i + 4] for i in range(0, len(master), 4)) in out
    # The recovery key is printed once by setup, and never logged or shown again.
    for text in (caplog.text, out):
        assert recovery_key not in text and recovery_key.replace(" ", "") not in text
