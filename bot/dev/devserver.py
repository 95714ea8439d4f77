"""A throwaway Synapse homeserver on loopback, for `helpdesk-bot demo` and the tests.

Synchronous on purpose: it is driven from sync pytest fixtures and the demo launcher.
Synapse-only modules (signedjson) are imported lazily so the bot itself never needs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bot.dev.synapse_config import write_homeserver_config


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
