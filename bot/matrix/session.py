"""Log in once, keep the session under ``matrix.store_path``, reuse the same device."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from nio import AsyncClient, LoginResponse, WhoamiResponse

from bot.config import MatrixSettings
from bot.logs import register_secret

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"


class LoginFailed(Exception):
    """The homeserver refused our credentials; retrying will not help."""


@dataclass
class StoredSession:
    homeserver: str
    user_id: str
    device_id: str
    access_token: str


def _session_path(settings: MatrixSettings) -> Path:
    return Path(settings.store_path) / SESSION_FILE


def load_session(settings: MatrixSettings) -> StoredSession | None:
    """The session saved by an earlier password login, if it is for this account."""
    path = _session_path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        session = StoredSession(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        log.warning("ignoring unreadable session file %s", path)
        return None
    if session.user_id != settings.user_id or session.homeserver != settings.homeserver:
        log.info("stored session is for another account or homeserver; logging in afresh")
        return None
    return session


def save_session(settings: MatrixSettings, session: StoredSession) -> None:
    """Write the session atomically, readable by the bot's user only (it holds a token)."""
    path = _session_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(asdict(session), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


async def _whoami(client: AsyncClient) -> WhoamiResponse | None:
    response = await client.whoami()
    return response if isinstance(response, WhoamiResponse) else None


async def log_in(client: AsyncClient, settings: MatrixSettings) -> None:
    """Authenticate ``client``: access token, stored session, or password (stored after).

    Raises:
        LoginFailed: the credentials were refused.
    """
    if settings.access_token is not None:
        client.access_token = settings.access_token.get_secret_value()
        client.user_id = settings.user_id
        who = await _whoami(client)
        if who is None:
            raise LoginFailed("matrix.access_token was refused by the homeserver")
        if who.user_id != settings.user_id:
            raise LoginFailed(
                f"matrix.access_token belongs to {who.user_id}, not matrix.user_id"
                f" {settings.user_id}"
            )
        if not who.device_id and settings.encryption:
            raise LoginFailed(
                "matrix.access_token has no device id; encryption needs one (log in with"
                " matrix.password, or set matrix.encryption: false)"
            )
        # restore_login also loads the crypto store for this device (nio does it).
        client.restore_login(settings.user_id, who.device_id or "", client.access_token)
        log.info("logged in with access token as %s (device %s)", who.user_id, who.device_id)
        return

    stored = load_session(settings)
    if stored is not None:
        register_secret(stored.access_token)
        # Loads the crypto store of the stored device: the same keys across restarts.
        client.restore_login(stored.user_id, stored.device_id, stored.access_token)
        if await _whoami(client) is not None:
            log.info("reusing stored session, device %s", stored.device_id)
            return
        log.info("stored session expired; logging in again with the same device")
        client.device_id = stored.device_id

    assert settings.password is not None  # guaranteed by config validation
    client.user = settings.user_id
    response = await client.login(
        settings.password.get_secret_value(), device_name=settings.device_name
    )
    if not isinstance(response, LoginResponse):
        raise LoginFailed(f"password login refused: {getattr(response, 'message', response)}")
    if stored is not None and response.device_id != stored.device_id:
        # nio keeps the store it loaded for the old device; a restart picks up the new one.
        log.warning("the homeserver gave a new device %s; restart to use it", response.device_id)
    register_secret(response.access_token)
    save_session(
        settings,
        StoredSession(
            settings.homeserver, response.user_id, response.device_id, response.access_token
        ),
    )
    log.info("logged in as %s, device %s; session stored", response.user_id, response.device_id)
