"""A throwaway Synapse homeserver on loopback, for `helpdesk-bot demo` and the tests.

Synchronous on purpose: it is driven from sync pytest fixtures and the demo launcher.
Synapse-only modules (signedjson) are imported lazily so the bot itself never needs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from bot.paths import FILE_MODE, write_private

_BIG = {"per_second": 10000, "burst_count": 100000}
# Every rate limit a test can trip; dotted keys are nested sections.
_RATE_LIMITS = (
    "rc_message", "rc_registration", "rc_registration_token_validity",
    "rc_login.address", "rc_login.account", "rc_login.failed_attempts",
    "rc_joins.local", "rc_joins.remote", "rc_joins_per_room",
    "rc_invites.per_room", "rc_invites.per_user", "rc_invites.per_issuer",
    "rc_third_party_invite", "rc_room_creation", "rc_key_requests", "rc_3pid_validation",
    "rc_media_create", "rc_presence.per_user", "rc_delayed_event_mgmt",
    "rc_user_directory", "rc_profile", "rc_reports", "rc_admin_redaction",
)  # fmt: skip
_LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(request)s %(message)s"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_homeserver_config(
    data_dir: Path,
    port: int,
    *,
    shared_secret: str,
    server_name: str = "localhost",
    relaxed_rate_limits: bool = True,
    log_level: str = "WARNING",
) -> Path:
    """Write homeserver.yaml, a log config and a signing key into ``data_dir``.

    The server listens on 127.0.0.1 only, serves the client API only, uses SQLite and
    never talks to other servers. Registration is closed; the shared secret still works.

    Args:
        data_dir: Directory for the config, database, logs and media (created if missing).
        port: Port of the client listener.
        shared_secret: ``registration_shared_secret`` for the admin register API.
        server_name: The Matrix server name (the part after ``:`` in user ids).
        relaxed_rate_limits: Raise every ``rc_*`` limit so tests never hit them; False
            keeps Synapse's defaults.
        log_level: Root level of Synapse's own log (``homeserver.log``).

    Returns:
        The path of homeserver.yaml.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir / "homeserver.yaml"
    old = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    cfg = _homeserver_settings(data_dir, port, server_name, shared_secret, old)
    if relaxed_rate_limits:
        _relax_rate_limits(cfg)
    write_private(config_path, yaml.safe_dump(cfg, sort_keys=False))  # holds secrets
    _write_log_config(data_dir, log_level)
    _ensure_signing_key(Path(cfg["signing_key_path"]))
    return config_path


def _homeserver_settings(
    data_dir: Path, port: int, server_name: str, shared_secret: str, old: dict[str, Any]
) -> dict[str, Any]:
    """homeserver.yaml: client API on 127.0.0.1, SQLite, no federation, closed sign-up."""
    cfg: dict[str, Any] = {
        "server_name": server_name,
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "pid_file": str(data_dir / "homeserver.pid"),
        "listeners": [{
            "port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
            "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}],
        }],
        "database": {"name": "sqlite3", "args": {"database": str(data_dir / "homeserver.db")}},
        "log_config": str(data_dir / "log.config"),
        "media_store_path": str(data_dir / "media_store"),
        "signing_key_path": str(data_dir / f"{server_name}.signing.key"),
        "registration_shared_secret": shared_secret,
        # Kept across rewrites so a restart with a fresh config keeps issued secrets valid.
        "macaroon_secret_key": old.get("macaroon_secret_key") or secrets.token_urlsafe(32),
        "form_secret": old.get("form_secret") or secrets.token_urlsafe(32),
        "report_stats": False,  # Synapse refuses to start without this key.
        "bcrypt_rounds": 4,  # logins in 0.02 s instead of 0.26 s
        "enable_registration": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
    }  # fmt: skip
    return cfg


def _relax_rate_limits(cfg: dict[str, Any]) -> None:
    """Raise every ``rc_*`` limit so tests never hit them."""
    for key in _RATE_LIMITS:
        section, _, sub = key.partition(".")
        if sub:
            cfg.setdefault(section, {})[sub] = dict(_BIG)
        else:
            cfg[section] = dict(_BIG)


def _write_log_config(data_dir: Path, log_level: str) -> None:
    """Synapse's own log goes to ``homeserver.log`` in ``data_dir``."""
    log_cfg = {
        "version": 1,
        "formatters": {"precise": {"format": _LOG_FORMAT}},
        "handlers": {"file": {"class": "logging.FileHandler", "formatter": "precise",
                              "filename": str(data_dir / "homeserver.log"), "encoding": "utf8"}},
        "root": {"level": log_level, "handlers": ["file"]},
        "disable_existing_loggers": False,
    }  # fmt: skip
    (data_dir / "log.config").write_text(yaml.safe_dump(log_cfg))


def _ensure_signing_key(key_path: Path) -> None:
    """The server's signing key, made once (readable by this user only)."""
    from signedjson.key import generate_signing_key, write_signing_keys

    if not key_path.exists():
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w") as f:
            write_signing_keys(f, [generate_signing_key("a_devserver")])


def _http(method: str, url: str, body: dict | None = None) -> dict:
    """JSON request with urllib; retries on 429 as the server asks."""
    headers = {"Content-Type": "application/json"}
    data = json.dumps(body).encode() if body is not None else None
    while True:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                err = json.loads(raw)
            except ValueError:
                err = {"error": raw.decode(errors="replace")}
            if e.code == 429:
                time.sleep(err.get("retry_after_ms", 1000) / 1000)
                continue
            raise _HttpError(e.code, err) from None


class _HttpError(RuntimeError):
    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.errcode = status, body.get("errcode")


class LocalSynapse:
    """A Synapse subprocess with its own data directory, port and database.

    ``stop()`` and ``start()`` (or ``restart()``) reuse the same port and database.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        shared_secret: str | None = None,
        relaxed_rate_limits: bool = True,
        python: str = sys.executable,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.shared_secret = shared_secret or secrets.token_urlsafe(24)
        self.relaxed_rate_limits = relaxed_rate_limits
        self.python = python
        self.log_path = self.data_dir / "synapse.out"
        self._proc: subprocess.Popen[bytes] | None = None
        self._config_path: Path | None = None

    @property
    def url(self) -> str:
        """Base URL of the client API, e.g. ``http://127.0.0.1:8008``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def server_name(self) -> str:
        """The Matrix server name used in user ids and aliases."""
        return "localhost"

    @property
    def running(self) -> bool:
        """True while the subprocess is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 90) -> None:
        """Start Synapse and wait until the client API answers.

        Args:
            timeout: Seconds to wait for ``/_matrix/client/versions`` to return 200.

        Raises:
            RuntimeError: Synapse exited or did not answer in time; includes the log tail.
        """
        if self.running:
            return
        if self._config_path is None:
            self._config_path = write_homeserver_config(
                self.data_dir, self.port, shared_secret=self.shared_secret,
                server_name=self.server_name, relaxed_rate_limits=self.relaxed_rate_limits,
            )  # fmt: skip
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.python, "-m", "synapse.app.homeserver", "-c", str(self._config_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Synapse exited with {self._proc.returncode}\n{self._tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=2) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass  # not listening yet
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"Synapse did not answer within {timeout} s\n{self._tail()}")

    def stop(self) -> None:
        """Stop Synapse with SIGTERM; SIGKILL if it has not exited after 20 s."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def kill(self) -> None:
        """Kill Synapse at once with SIGKILL (a crash, for recovery tests)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None

    def restart(self, down_s: float = 2.0) -> None:
        """Stop, stay down for ``down_s`` seconds, and start again on the same port."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def register(
        self,
        localpart: str,
        password: str,
        *,
        admin: bool = False,
        displayname: str | None = None,
    ) -> dict:
        """Create a user with the shared-secret admin API, or log in if it exists.

        Args:
            localpart: The user name without ``@`` and server.
            password: The password (also used to log in when the user exists).
            admin: Make the user a server admin.
            displayname: Optional display name.

        Returns:
            The JSON response, with at least ``user_id``, ``access_token``, ``device_id``.
        """
        url = f"{self.url}/_synapse/admin/v1/register"
        nonce = _http("GET", url)["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join(
            [nonce.encode(), localpart.encode(), password.encode(),
             b"admin" if admin else b"notadmin"]
        ))  # fmt: skip
        body: dict[str, Any] = {"nonce": nonce, "username": localpart, "password": password,
                                "admin": admin, "mac": mac.hexdigest()}  # fmt: skip
        if displayname:
            body["displayname"] = displayname
        try:
            return _http("POST", url, body)
        except _HttpError as e:
            if e.errcode != "M_USER_IN_USE":
                raise
        return _http("POST", f"{self.url}/_matrix/client/v3/login", {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        })  # fmt: skip

    def _tail(self, lines: int = 40) -> str:
        out = []
        for path in (self.log_path, self.data_dir / "homeserver.log"):
            if path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"--- {path.name} ---\n" + "\n".join(text))
        return "\n".join(out)
