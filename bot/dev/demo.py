"""``helpdesk-bot demo``: a local Synapse, accounts, rooms and the bot, for a try-out.

Everything lives under one directory (default ``./demo``) and binds 127.0.0.1 only.
Running it again reuses the homeserver, accounts and rooms.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from bot.dev.devserver import LocalSynapse
from bot.paths import FILE_MODE, private_dir, tighten, write_private
from bot.settings import load_config

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]


def _call(hs: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        hs + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _room_for(hs: str, token: str, alias: str) -> str | None:
    try:
        return _call(
            hs, token, "GET", "/_matrix/client/v3/directory/room/" + urllib.parse.quote(alias)
        )["room_id"]
    except urllib.error.HTTPError:
        return None


def _ensure_room(
    hs: str, token: str, localpart: str, server: str, *, public: bool, name: str, invite: list[str]
) -> str:
    alias = f"#{localpart}:{server}"
    room_id = _room_for(hs, token, alias)
    if room_id is None:
        room_id = _call(
            hs,
            token,
            "POST",
            "/_matrix/client/v3/createRoom",
            {
                "room_alias_name": localpart,
                "name": name,
                "preset": "public_chat" if public else "private_chat",
                "invite": invite,
            },
        )["room_id"]
    return room_id


def _state(demo_dir: Path) -> dict[str, Any]:
    path = demo_dir / "accounts.json"
    if path.exists():
        return json.loads(path.read_text())
    state = {name: secrets.token_urlsafe(9) for name in ("helpdesk", "alice", "seclead")}
    private_dir(demo_dir)
    write_private(path, json.dumps(state))
    return state


def _start_homeserver(demo_dir: Path, port: int) -> LocalSynapse:
    """The demo's Synapse, with a shared secret kept in ``demo_dir`` (this user only)."""
    secret_file = demo_dir / "shared_secret"
    if not secret_file.exists():
        write_private(secret_file, secrets.token_urlsafe(24))
    tighten(secret_file, FILE_MODE)
    hs = LocalSynapse(demo_dir / "synapse", port, shared_secret=secret_file.read_text())
    hs.start()
    return hs


def _create_rooms(hs: LocalSynapse, lead_token: str) -> None:
    """The public helpdesk room (alice invited) and the private triage room (bot invited)."""
    server = hs.server_name
    _ensure_room(
        hs.url,
        lead_token,
        "security-helpdesk",
        server,
        public=True,
        name="Security helpdesk",
        invite=[f"@alice:{server}"],
    )
    _ensure_room(
        hs.url,
        lead_token,
        "security-triage",
        server,
        public=False,
        name="Security triage",
        invite=[f"@helpdesk:{server}"],
    )


def _bot_config(hs: LocalSynapse, demo_dir: Path, password: str, web_port: int) -> dict:
    """The bot's config.yaml for the demo: the shipped playbooks and tips, SQLite."""
    server = hs.server_name
    return {
        "matrix": {
            "homeserver": hs.url,
            "user_id": f"@helpdesk:{server}",
            "password": password,
            "device_name": "demo",
            "store_path": str(demo_dir / "store"),
        },
        "rooms": {
            "helpdesk": f"#security-helpdesk:{server}",
            "triage": f"#security-triage:{server}",
        },
        "security_team": [f"@seclead:{server}"],
        "ownership": {"fallback_contact": f"the security team (@seclead:{server})"},
        "database": {"url": f"sqlite+aiosqlite:///{demo_dir / 'helpdesk.db'}"},
        "web": {"host": "127.0.0.1", "port": web_port},
        "incidents": {
            "playbooks_file": str(ROOT / "config" / "playbooks.yaml"),
            "oncall": [f"@seclead:{server}"],
        },
        "tips": {"file": str(ROOT / "config" / "tips.yaml")},
    }


def prepare(demo_dir: Path, port: int, web_port: int) -> tuple[LocalSynapse, Path, dict]:
    """Start Synapse and create the accounts, rooms and bot config. Returns them."""
    demo_dir = demo_dir.resolve()
    passwords = _state(demo_dir)
    hs = _start_homeserver(demo_dir, port)
    tokens = {
        name: hs.register(name, pw, admin=(name == "seclead"))["access_token"]
        for name, pw in passwords.items()
    }
    _create_rooms(hs, tokens["seclead"])
    config = _bot_config(hs, demo_dir, passwords["helpdesk"], web_port)
    config_path = demo_dir / "config.yaml"
    write_private(config_path, yaml.safe_dump(config, sort_keys=False))
    marker = demo_dir / ".map-imported"
    if not marker.exists():
        asyncio.run(_import_example_map(config_path))
        marker.touch()
    return hs, config_path, passwords


async def _import_example_map(config_path: Path) -> None:
    """Load the shipped responsibilities map, so "who handles phishing?" works at once."""
    from bot.clock import system_clock
    from bot.features.ownership.importer import import_map
    from bot.storage import Database, migrate

    settings = load_config(config_path)
    await migrate.upgrade(settings.database.url)
    db = Database(settings.database.url)
    try:
        text = (ROOT / "config" / "responsibilities.yaml").read_text(encoding="utf-8")
        async with db.sessions.begin() as session:
            await import_map(session, text, actor="demo", now=system_clock())
    finally:
        await db.close()


def run_demo(demo_dir: str, *, port: int = 8008, web_port: int = 8080) -> int:
    """Set everything up, print how to log in, run the bot until Ctrl-C."""
    from bot.app import run_app
    from bot.logs import setup_logging

    hs, config_path, passwords = prepare(Path(demo_dir), port, web_port)
    try:
        settings = load_config(config_path)
        setup_logging(settings)
        server = hs.server_name
        print(
            f"""
  Security helpdesk demo is up.

  Homeserver:  {hs.url}   (server name: {server})
  Log in with any Matrix client (e.g. Element: "Edit" the homeserver to {hs.url}):
    contributor     @alice:{server}     password: {passwords["alice"]}
    security lead   @seclead:{server}   password: {passwords["seclead"]}
  Rooms: #security-helpdesk:{server} (public)  #security-triage:{server} (team)
  Try:   !help   !ping   or open a DM with @helpdesk:{server}
  Health: http://127.0.0.1:{web_port}/readyz      Config: {config_path}
  Web board (http://127.0.0.1:{web_port}/): as seclead, send !dashboard in the triage
    room; the bot DMs a sign-in link (10 minutes, works once). !dashboard logout ends it.
  Handbook (http://127.0.0.1:{web_port}/handbook): as alice, send !handbook in the
    helpdesk room or a DM; open the link, then search "who handles phishing?".
  Stop with Ctrl-C.
""",
            flush=True,
        )
        return asyncio.run(run_app(settings))
    finally:
        hs.stop()
