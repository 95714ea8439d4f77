"""Element's own crypto stack as a test client: ``tests/element/dm.mjs`` under Node.

matrix-js-sdk with its Rust crypto (the code Element Web runs), installed by ``make test``
(``npm ci`` in ``tests/element``). Each run registers a fresh user who bootstraps
cross-signing, opens an encrypted DM with the bot as Element does and reports, for every
message, whether the bot's reply arrived and could be decrypted.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.dev.devserver import LocalSynapse

ELEMENT_DIR = Path(__file__).resolve().parents[1] / "element"
_seq = itertools.count(1)


@dataclass
class ElementRun:
    """What the Element client saw."""

    room_id: str
    device_id: str
    bot_devices: list[dict[str, Any]]
    results: list[dict[str, Any]]
    user_id: str

    def reply(self, index: int) -> dict[str, Any] | None:
        """The bot's reply to message ``index`` (None when none arrived)."""
        return self.results[index]["reply"]


def require_node() -> str:
    """The ``node`` binary; skips without Node, fails when the packages are missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (needed for Element's crypto stack)")
    if not (ELEMENT_DIR / "node_modules" / "matrix-js-sdk").is_dir():
        pytest.fail("matrix-js-sdk is not installed: run `make test` (npm ci in tests/element)")
    return node


async def element_dm(
    hs: LocalSynapse,
    bot_user_id: str,
    messages: list[str],
    *,
    mode: str = "enforced",
    timeout: float = 30.0,
    room_id: str | None = None,
    account: tuple[str, str] | None = None,
) -> ElementRun:
    """Run one Element session: new user, encrypted DM with the bot, ``messages`` sent.

    Args:
        hs: the suite's Synapse.
        bot_user_id: whom to DM.
        messages: sent in order; the first right after the invite (before the bot joins).
        mode: ``enforced`` (OnlySignedDevicesIsolationMode) or ``legacy``.
        timeout: seconds to wait for each reply.
        room_id: join this room (the user must be invited) instead of opening a DM.
        account: (user id, password) of a user registered with :func:`register`.
    """
    node = require_node()
    user_id, password = account or await register(hs, mode)
    cfg = {
        "homeserver": hs.url,
        "user_id": user_id,
        "password": password,
        "bot": bot_user_id,
        "mode": mode,
        "messages": messages,
        "timeout_ms": int(timeout * 1000),
        **({"room_id": room_id} if room_id else {}),
    }
    proc = await asyncio.create_subprocess_exec(
        node,
        str(ELEMENT_DIR / "dm.mjs"),
        json.dumps(cfg),
        cwd=ELEMENT_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    budget = 60 + timeout * (len(messages) + 1)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), budget)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("the Element client hung") from None
    if proc.returncode != 0:
        raise AssertionError(f"the Element client failed:\n{err.decode(errors='replace')[-3000:]}")
    data = json.loads(out.decode().strip().splitlines()[-1])
    return ElementRun(user_id=user_id, **data)


async def register(hs: LocalSynapse, name: str = "user") -> tuple[str, str]:
    """A fresh account for an Element session: (user id, password)."""
    local = f"element-{name}-{next(_seq)}"
    password = f"{local}-password"
    registered = await asyncio.to_thread(hs.register, local, password)
    return registered["user_id"], password
