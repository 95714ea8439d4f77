"""Encryption that Element's enforced mode accepts: a cross-signed identity and its upkeep.

:class:`E2EE` is the one object the Matrix layer talks to (``bot.matrix.client`` wires its
hooks); nothing outside ``bot.matrix`` imports this package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, SyncResponse
from prometheus_client import CollectorRegistry

from bot.logs import register_secret
from bot.matrix.e2ee import guard, recovery
from bot.matrix.e2ee.api import ApiError, MatrixApi
from bot.matrix.e2ee.backup import KeyBackup
from bot.matrix.e2ee.identity import IdentityError, IdentityState, ensure_identity
from bot.matrix.e2ee.keystore import CrossSigningKeys, KeyFile
from bot.matrix.e2ee.report import Report, inspect
from bot.matrix.e2ee.ssss import SecretStorage, SecretStorageError
from bot.matrix.e2ee.storekey import STORE_KEY_ERRORS, STORE_KEY_PROBLEM, store_key
from bot.matrix.e2ee.trust import DeviceTrust, restrict_sharing
from bot.matrix.e2ee.undecryptable import Undecryptable
from bot.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["E2EE", "STORE_KEY_ERRORS", "STORE_KEY_PROBLEM", "store_key"]

RETRY_SECONDS = 60.0


class E2EE:
    """The bot's cross-signing identity and the guard on decrypted events."""

    def __init__(
        self, settings: Settings, client: AsyncClient, registry: CollectorRegistry | None = None
    ):
        self.settings = settings
        self.client = client
        for secret in (settings.matrix.recovery_key, settings.matrix.store_passphrase):
            if secret is not None:  # never in a log line
                register_secret(secret.get_secret_value())
                register_secret("".join(secret.get_secret_value().split()))
        self.api = MatrixApi(
            settings.matrix.homeserver,
            lambda: client.access_token,
            timeout=settings.matrix.request_timeout,
        )
        passphrase = settings.matrix.store_passphrase
        self.key_file = KeyFile(
            settings.matrix.store_path,
            settings.matrix.user_id,
            passphrase.get_secret_value() if passphrase else None,
        )
        self.identity = IdentityState()
        self.backup = KeyBackup(client, self.api, settings.matrix.user_id)
        self.trust = DeviceTrust(client, self.api)
        self.origins: dict[str, str] = {}  # decrypted event id -> sender's Curve25519 key
        # Set by the sync loop: the members of a need-to-know room (triage), else None.
        self.need_to_know: Callable[[str], set[str] | None] = lambda room_id: None
        self.undecryptable = Undecryptable(
            client,
            self.api,
            grace=settings.matrix.undecryptable_grace.total_seconds(),
            registry=registry,
            store_path=settings.matrix.store_path,
        )
        self.undecryptable.fetch_key = self.backup.fetch
        self._established = False
        self.user_id = settings.matrix.user_id
        # "ready", "not set up" or what is wrong with it (for the status).
        self.secret_storage = "not checked"
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
        guard.install(self.client, self.origins)
        restrict_sharing(self.client, self.trust, self.need_to_know)
        await self._establish()
        await self.undecryptable.restore()

    def on_sync(self, response: SyncResponse) -> None:
        """Take in a sync's to-device events (withheld room keys)."""
        if self.enabled:
            self.undecryptable.on_to_device(list(response.to_device_events))

    async def after_sync(self) -> None:
        """After each sync: retry held events; retry the identity if not established."""
        if not self.enabled:
            return
        await self.undecryptable.retry()
        await self._refresh_trust()
        try:
            await self.backup.upload_new()
        except (ApiError, ClientError, OSError, TimeoutError) as exc:
            log.warning("key backup upload failed (%s); retried after the next sync", exc)
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
                user_id=self.user_id,
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
        if self.identity.keys is not None:
            if self._recovery_key():
                await self._sync_secret_storage(self.identity.keys)
            else:
                log.warning(
                    "matrix.recovery_key is not set: a lost store cannot restore the"
                    " bot's identity (run `helpdesk-bot crypto setup` once)"
                )
                self.secret_storage = "no recovery key configured"

    async def _refresh_trust(self) -> None:
        for room_id, room in self.client.rooms.items():
            members = self.need_to_know(room_id)
            if members is None or not room.encrypted:
                continue
            before = {user: set(ids) for user, ids in self.trust.signed.items()}
            try:
                await self.trust.refresh(members)
            except (ApiError, ClientError, OSError, TimeoutError) as exc:
                log.warning("device trust check failed (%s)", exc)
                continue
            if any(ids - before.get(user, set()) for user, ids in self.trust.signed.items()):
                self.rotate(room_id)

    def rotate(self, room_id: str) -> None:
        """Start a new room key for ``room_id`` at the next send (newly signed devices
        were left out of the current one)."""
        if self.client.olm is not None:
            self.client.olm.outbound_group_sessions.pop(room_id, None)

    async def may_command(self, room_id: str, event: dict[str, Any]) -> bool:
        """Whether a message in a need-to-know room came from a cross-signed device.

        Rooms that are not need-to-know, or not encrypted, allow everything. In an
        encrypted one, a plaintext event, or one from a device its owner has not
        cross-signed, is refused (fail closed when the device is unknown).
        """
        room = self.client.rooms.get(room_id)
        if not self.enabled or self.need_to_know(room_id) is None or not room or not room.encrypted:
            return True
        sender_key = self.origins.get(str(event.get("event_id")))
        if sender_key is None:
            return False
        try:
            return await self.trust.sender_signed(str(event.get("sender")), sender_key)
        except (ApiError, ClientError, OSError, TimeoutError) as exc:
            log.warning("cannot check the sender's device (%s); refusing", exc)
            return False

    def _recovery_key(self) -> str | None:
        key = self.settings.matrix.recovery_key
        return key.get_secret_value() if key else None

    async def _recover(self, master: str) -> CrossSigningKeys | None:
        """The private keys from secret storage (None, logged, when that is impossible)."""
        if not self._recovery_key():
            return None
        try:
            storage = await recovery.open_storage(self.api, self.user_id, self._recovery_key())
            keys = await recovery.load_keys(storage)
        except SecretStorageError as exc:
            self.secret_storage = str(exc)
            log.error("secret storage: %s", exc)
            return None
        if keys is None:
            log.error("secret storage does not hold the cross-signing keys")
        return keys

    async def _sync_secret_storage(self, keys: CrossSigningKeys) -> None:
        """With a recovery key configured, make sure secret storage holds the keys."""
        try:
            storage = await recovery.open_storage(self.api, self.user_id, self._recovery_key())
            if not await recovery.keys_stored(storage, keys):
                await recovery.save_keys(storage, keys)
                log.info("stored the cross-signing keys in secret storage")
            self.secret_storage = "ready"
            await self.backup.enable(storage, keys)
        except SecretStorageError as exc:
            self.secret_storage = str(exc)
            log.error("secret storage: %s", exc)
        except (ApiError, ClientError, OSError, TimeoutError) as exc:
            log.warning("secret storage check failed (%s)", exc)

    async def setup(self) -> str | None:
        """Create (or restore) the identity and secret storage; the new recovery key.

        Returns:
            The recovery key text when a new one was made (show it once), None when the
            configured ``matrix.recovery_key`` already opens the secret storage.

        Raises:
            IdentityError: the identity cannot be established (the reason in words).
        """
        guard.install(self.client)
        await self._establish()
        keys = self.identity.keys
        if keys is None or not self.identity.device_signed:
            raise IdentityError(self.identity.problem or "the identity could not be established")
        if self._recovery_key():
            storage = await recovery.open_storage(self.api, self.user_id, self._recovery_key())
            await recovery.save_keys(storage, keys)
            await self.backup.enable(storage, keys)
            self.secret_storage = "ready"
            return None
        if await SecretStorage.exists(self.api, self.user_id):
            log.warning("replacing the secret storage key: the old recovery key stops working")
        storage, text = await SecretStorage.create(self.api, self.user_id)
        await recovery.save_keys(storage, keys)
        await self.backup.enable(storage, keys)
        self.secret_storage = "ready"
        return text

    async def report(self, triage_members: set[str]) -> Report:
        """The self-check: identity, secret storage, backup, counts, unsigned members."""
        result = await inspect(
            self.api,
            user_id=self.user_id,
            device_id=str(self.client.device_id),
            recovery_key=self._recovery_key(),
            triage_members=triage_members,
            backup=self.backup_state(),
        )
        result.undecryptable = self.undecryptable.counts()
        result.problem = self.identity.problem
        return result

    def backup_state(self) -> str:
        """The key backup, in words."""
        return self.backup.state()

    async def read(self, room_id: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """An old encrypted event decrypted, its key fetched from the backup if need be."""
        held = self.undecryptable
        decrypted = held.decrypt(room_id, event)
        if decrypted is None:
            session_id = str((event.get("content") or {}).get("session_id", ""))
            if await self.backup.fetch(room_id, session_id):
                decrypted = held.decrypt(room_id, event)
        return decrypted

    def status(self) -> dict[str, Any]:
        """A summary for ``!crypto``, ``crypto status`` and ``/readyz``."""
        return {
            "device_id": self.client.device_id,
            "cross_signed": self.identity.device_signed,
            "master_key": self.identity.master_key,
            "problem": self.identity.problem,
            "secret_storage": self.secret_storage,
        }

    async def close(self) -> None:
        """Release the HTTP session."""
        await self.api.close()
