"""A bot account, a security lead, the helpdesk and triage rooms, and the bot under test.

The bot runs either as a real subprocess (``helpdesk-bot run``: crash and signal tests)
or in-process (``App``: feature tests with a controlled clock).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bot.app import App
from bot.clock import Clock, system_clock
from bot.dev.devserver import LocalSynapse, free_port
from bot.settings import Settings
from tests.support.jobruns import JobRuns
from tests.support.mxclient import MatrixUser, make_user

_world_seq = itertools.count(1)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BotWorld:
    hs: LocalSynapse
    dir: Path
    bot_user_id: str
    bot_password: str
    lead: MatrixUser
    helpdesk_alias: str
    triage_alias: str
    helpdesk: str
    triage: str
    db_url: str
    web_port: int
    users: list[MatrixUser] = field(default_factory=list)

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A config dict for the bot; nested ``overrides`` replace whole sections' keys."""
        cfg: dict[str, Any] = {
            "matrix": {
                "homeserver": self.hs.url,
                "user_id": self.bot_user_id,
                "password": self.bot_password,
                "device_name": "test",
                "store_path": str(self.dir / "store"),
                "sync_timeout_ms": 5000,
                # Tests wait seconds, not the default 30 s, for a key that never comes.
                "undecryptable_grace": "2s",
            },
            "rooms": {"helpdesk": self.helpdesk_alias, "triage": self.triage_alias},
            "security_team": [self.lead.user_id],
            "database": {"url": self.db_url},
            "web": {"host": "127.0.0.1", "port": self.web_port},
            "logging": {"level": "INFO"},
            # Abuse limits off unless a test is about them (tests send bursts).
            "limits": {"enabled": False},
            # No campaigns unless a test is about tips: the shipped Security Month would
            # post into the helpdesk room at start on any December day after 09:00 Berlin.
            "tips": {"file": str(self._no_tips())},
        }
        for section, values in overrides.items():
            if isinstance(values, dict):
                cfg.setdefault(section, {}).update(values)
            else:
                cfg[section] = values
        return cfg

    def _no_tips(self) -> Path:
        path = self.dir / "no-tips.yaml"
        if not path.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            path.write_text("campaigns: []\n")
        return path

    def write_config(self, **overrides: Any) -> Path:
        path = self.dir / "config.yaml"
        path.write_text(yaml.safe_dump(self.config(**overrides)))
        return path

    def settings(self, **overrides: Any) -> Settings:
        return Settings(**self.config(**overrides))

    async def user(self, name: str) -> MatrixUser:
        """A fresh user who has joined the helpdesk room."""
        user = await make_user(self.hs, f"{name}-{next(_world_seq)}")
        await user.join(self.helpdesk)
        self.users.append(user)
        return user

    async def close(self) -> None:
        for user in self.users:
            await user.close()
        await self.lead.close()


async def make_world(hs: LocalSynapse, base: Path, db_url: str | None = None) -> BotWorld:
    """Register the bot and a lead; the lead creates both rooms and invites the bot."""
    n = next(_world_seq)
    base.mkdir(parents=True, exist_ok=True)
    bot_local, password = f"helpdesk{n}", f"bot-pass-{n}-secret"
    await asyncio.to_thread(hs.register, bot_local, password)
    bot_id = f"@{bot_local}:{hs.server_name}"
    lead = await make_user(hs, f"lead{n}")
    helpdesk_local, triage_local = f"security-helpdesk-{n}", f"security-triage-{n}"
    helpdesk = await lead.create_room(helpdesk_local, public=True, name="Security helpdesk")
    triage = await lead.create_room(
        triage_local, public=False, invite=[bot_id], name="Security triage"
    )
    return BotWorld(
        hs=hs,
        dir=base,
        bot_user_id=bot_id,
        bot_password=password,
        lead=lead,
        helpdesk_alias=f"#{helpdesk_local}:{hs.server_name}",
        triage_alias=f"#{triage_local}:{hs.server_name}",
        helpdesk=helpdesk,
        triage=triage,
        db_url=db_url or f"sqlite+aiosqlite:///{base / 'helpdesk.db'}",
        web_port=free_port(),
    )


async def wait_joined(world: BotWorld, room_id: str, timeout: float = 30) -> None:
    """Until the bot is a joined member of ``room_id``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if world.bot_user_id in await world.lead.joined_members(room_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"bot never joined {room_id}")


async def open_dm(world: BotWorld, user: MatrixUser, timeout: float = 30) -> str:
    """A new DM from ``user`` to the bot, once the bot has joined it."""
    room = await user.create_dm(world.bot_user_id)
    deadline = time.monotonic() + timeout
    while world.bot_user_id not in await user.joined_members(room):
        if time.monotonic() > deadline:
            raise AssertionError("the bot never joined the DM")
        await asyncio.sleep(0.1)
    return room


async def wait_ready(port: int, timeout: float = 60) -> None:
    """Until ``/readyz`` answers 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("bot never became ready")


class BotProcess:
    """``python -m bot run`` as a subprocess, for kill -9 and signal tests."""

    def __init__(self, world: BotWorld, config_path: Path):
        self.world, self.config_path = world, config_path
        self.log_path = world.dir / "bot.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "HELPDESK_CONFIG": str(self.config_path), "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=self.world.dir,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class InProcessBot:
    """The real ``App`` in the test's event loop, with an injectable clock.

    ``plaintext_dms``: DMs the bot opens itself are created unencrypted, for tests whose
    users (``MatrixUser``, plain HTTP) must read them. Encryption stays on otherwise.
    """

    def __init__(
        self, settings: Settings, clock: Clock = system_clock, *, plaintext_dms: bool = False
    ):
        self.settings, self.clock = settings, clock
        self.plaintext_dms = plaintext_dms
        self.app: App | None = None
        self.jobs: JobRuns | None = None

    async def start(self) -> App:
        self.app = App(self.settings, clock=self.clock)
        self.jobs = JobRuns(self.app.scheduler)
        if self.plaintext_dms:
            self.app.matrix.transport.encrypt_new_rooms = False
        await self.app.start()
        await asyncio.wait_for(self.app.matrix.synced_once.wait(), 60)
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None
