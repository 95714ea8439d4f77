"""Encryption that Element's enforced mode accepts: a cross-signed identity and its upkeep.

:class:`E2EE` is the one object the sync loop talks to (``bot.matrix.client`` calls its
hooks); nothing outside ``bot.matrix`` imports this package.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, SyncResponse
from prometheus_client import CollectorRegistry

from bot.config import Settings
from bot.matrix.e2ee import guard
from bot.matrix.e2ee.api import ApiError, MatrixApi
from bot.matrix.e2ee.identity import IdentityError, IdentityState, ensure_identity
from bot.matrix.e2ee.keystore import CrossSigningKeys, KeyFile
from bot.matrix.e2ee.undecryptable import Undecryptable

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0


class E2EE:
    """The bot's cross-signing identity and the guard on decrypted events."""

    def __init__(
        self, settings: Settings, client: AsyncClient, registry: CollectorRegistry | None = None
    ):
        self.settings = settings
        self.client = client
        self.api = MatrixApi(
            settings.matrix.homeserver,
            lambda: client.access_token,
            timeout=settings.matrix.request_timeout,
        )
        self.key_file = KeyFile(settings.matrix.store_path, settings.matrix.user_id)
        self.identity = IdentityState()
        self.undecryptable = Undecryptable(
            client,
            self.api,
            grace=settings.matrix.undecryptable_grace.total_seconds(),
            registry=registry,
        )
        self._established = False
        self._last_attempt = -RETRY_SECONDS

    @property
    def enabled(self) -> bool:
        """Whether the bot encrypts at all (``matrix.encryption``)."""
        return self.settings.matrix.encryption and self.client.olm is not None

    @property
    def degraded(self) -> bool:
        """Encryption is on but the bot's device is not cross-signed (Element hides it)."""
        return self.enabled and not self.identity.device_signed

    async def on_login(self) -> None:
        """After login: guard decryption, publish device keys, establish the identity."""
        if not self.enabled:
            return
        guard.install(self.client)
        await self._establish()

    def on_sync(self, response: SyncResponse) -> None:
        """Take in a sync's to-device events (withheld room keys)."""
        if self.enabled:
            self.undecryptable.on_to_device(list(response.to_device_events))

    async def after_sync(self) -> None:
        """After each sync: retry held events; retry the identity if not established."""
        if not self.enabled:
            return
        await self.undecryptable.retry()
        if self._established:
            return
        if asyncio.get_running_loop().time() - self._last_attempt >= RETRY_SECONDS:
            await self._establish()

    async def _establish(self) -> None:
        self._last_attempt = asyncio.get_running_loop().time()
        try:
            if self.client.should_upload_keys:
                # The device must be published before it can be signed.
                await self.client.keys_upload()
            password = self.settings.matrix.password
            self.identity = await ensure_identity(
                self.api,
                user_id=self.settings.matrix.user_id,
                device_id=str(self.client.device_id),
                key_file=self.key_file,
                password=password.get_secret_value() if password else None,
                recover=self._recover,
            )
        except IdentityError as exc:
            self.identity.problem = str(exc)
            log.error("cross-signing: %s", exc)
            return
        except (ApiError, ClientError, OSError, TimeoutError) as exc:
            log.warning("cross-signing check failed (%s); retrying later", exc)
            return
        # A lost identity is not retried in a loop: it needs the operator (recovery key).
        self._established = self.identity.device_signed or self.identity.keys is None
        if self.identity.device_signed:
            log.info(
                "device %s is cross-signed; master key %s",
                self.client.device_id,
                self.identity.master_key,
            )

    async def _recover(self, master: str) -> CrossSigningKeys | None:
        return None

    def status(self) -> dict[str, Any]:
        """A summary for ``!crypto``, ``crypto status`` and ``/readyz``."""
        return {
            "device_id": self.client.device_id,
            "cross_signed": self.identity.device_signed,
            "master_key": self.identity.master_key,
            "problem": self.identity.problem,
        }

    async def close(self) -> None:
        """Release the HTTP session."""
        await self.api.close()
