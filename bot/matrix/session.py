"""Log in once, keep the session under ``matrix.store_path``, reuse the same device."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from aiohttp import ClientConnectionError
from nio import AsyncClient, LoginResponse, WhoamiResponse

from bot.backoff import Backoff, pause
from bot.config import MatrixSettings
from bot.logs import register_secret

log = logging.getLogger(__name__)

SESSION_FILE = "session.json"


class LoginFailed(Exception):
    """The homeserver refused our credentials; retrying will not help."""


class HomeserverUnavailable(ConnectionError):
    """The homeserver (or a proxy before it) answered 5xx or 429: try again later."""


def _unavailable(response: object) -> bool:
    status = getattr(getattr(response, "transport_response", None), "status", None)
    return status is None or status >= 500 or status == 429


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
    """Who the token belongs to; None when it is refused.

    Raises:
        HomeserverUnavailable: a 5xx or 429 (a proxy before a homeserver still starting).
    """
    response = await client.whoami()
    if isinstance(response, WhoamiResponse):
        return response
    if _unavailable(response):
        raise HomeserverUnavailable(f"whoami: {getattr(response, 'message', response)}")
    return None


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

    response = await password_login(client, settings)
    if stored is not None and response.device_id != stored.device_id:
        # nio keeps the store it loaded for the old device; a restart picks up the new one.
        log.warning("the homeserver gave a new device %s; restart to use it", response.device_id)
    log.info("logged in as %s, device %s; session stored", response.user_id, response.device_id)


async def password_login(client: AsyncClient, settings: MatrixSettings) -> LoginResponse:
    """Log in with the password, on ``client.device_id`` if set; store the new session.

    Raises:
        LoginFailed: the password was refused.
        HomeserverUnavailable: a 5xx or 429; try again later.
    """
    assert settings.password is not None  # guaranteed by config validation
    client.user = settings.user_id
    response = await client.login(
        settings.password.get_secret_value(), device_name=settings.device_name
    )
    if not isinstance(response, LoginResponse):
        if _unavailable(response):
            raise HomeserverUnavailable(f"login: {getattr(response, 'message', response)}")
        raise LoginFailed(f"password login refused: {getattr(response, 'message', response)}")
    register_secret(response.access_token)
    save_session(
        settings,
        StoredSession(
            settings.homeserver, response.user_id, response.device_id, response.access_token
        ),
    )
    return response


class SessionKeeper:
    """Notices a revoked session and heals it: a new login on the same device (with a
    password), or a loud log and a not-ready bot that keeps every queued message (with
    only an access token, which nobody but the operator can renew).

    Args:
        client: the nio client whose session this is.
        settings: the ``matrix`` section (password or access token).
        on_lost: called when the session is found revoked (hold the outbox).
        on_restored: called when it works again (release the outbox).
        on_relogin: called after each new login (count it).
    """

    def __init__(
        self,
        client: AsyncClient,
        settings: MatrixSettings,
        *,
        on_lost: Callable[[], None] = lambda: None,
        on_restored: Callable[[], None] = lambda: None,
        on_relogin: Callable[[], None] = lambda: None,
    ):
        self.client = client
        self.settings = settings
        self.on_lost, self.on_restored, self.on_relogin = on_lost, on_restored, on_relogin
        self.ok = True

    def revoked(self, where: str) -> None:
        """The homeserver answered ``M_UNKNOWN_TOKEN`` to a request (``where``)."""
        if not self.ok:
            return
        self.ok = False
        log.error("the homeserver no longer accepts the bot's session (seen on %s)", where)
        self.on_lost()

    async def heal(self, stopping: asyncio.Event) -> bool:
        """Until the session works again (True) or the bot stops (False)."""
        backoff = Backoff()
        told = False
        while not stopping.is_set():
            try:
                if self.settings.password is not None:
                    device = self.client.device_id
                    response = await password_login(self.client, self.settings)
                    if device and response.device_id != device:
                        log.warning("logged in again on a new device %s", response.device_id)
                    log.warning("session revoked; logged in again on device %s", response.device_id)
                    self.on_relogin()
                    await self._republish_keys()
                elif await _whoami(self.client) is None:
                    if not told:
                        log.error(
                            "matrix.access_token was revoked (M_UNKNOWN_TOKEN): the bot can "
                            "neither read nor send. Every queued message is kept and goes out "
                            "once a valid token is configured and the bot restarted (or set "
                            "matrix.password, so it logs in again by itself)."
                        )
                        told = True
                    await pause(30.0, stopping)
                    continue
                self.ok = True
                self.on_restored()
                return True
            except LoginFailed as exc:
                log.error("cannot log in again: %s; retrying in 60s", exc)
                await pause(60.0, stopping)
            except (ClientConnectionError, TimeoutError, OSError) as exc:
                log.warning("homeserver unreachable while logging in again (%s)", exc)
                await backoff.sleep(stopping)
        return False

    async def _republish_keys(self) -> None:
        """A deleted device lost its keys on the server: upload them again (same keys)."""
        olm = self.client.olm
        if olm is None:
            return
        try:
            olm.account.shared = False  # nio then uploads the device keys, not only OTKs
            await self.client.keys_upload()
        except Exception as exc:  # E2EE is best effort here; sending goes on
            log.warning("could not upload device keys again: %s", type(exc).__name__)
