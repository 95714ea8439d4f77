"""Server-side key backup (``m.megolm_backup.v1.curve25519-aes-sha2``), key in secret storage.

The bot uploads every room key it holds, so a bot restored from the recovery key on an
empty store can still read what was sent before the loss (an incident thread stays
readable). Encryption as the spec defines it: an ephemeral Curve25519 key agreed with
the backup's public key, HKDF-SHA-256 to an AES-256-CBC key, a MAC key and an IV.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from hashlib import sha256
from typing import Any
from urllib.parse import quote

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol import DH
from Crypto.Protocol.KDF import HKDF
from Crypto.Util.Padding import pad, unpad
from nio import AsyncClient
from nio.crypto.sessions import InboundGroupSession

from bot.matrix.e2ee.api import ApiError, MatrixApi
from bot.matrix.e2ee.keystore import CrossSigningKeys
from bot.matrix.e2ee.recovery import BACKUP
from bot.matrix.e2ee.signing import b64decode, b64encode, sign_object
from bot.matrix.e2ee.ssss import SecretStorage

log = logging.getLogger(__name__)

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
MEGOLM = "m.megolm.v1.aes-sha2"


def _derive(shared: bytes) -> tuple[bytes, bytes, bytes]:
    okm = HKDF(shared, 80, bytes(32), SHA256, context=b"")
    return okm[:32], okm[32:64], okm[64:]


def _agree(private: bytes, public: bytes) -> bytes:
    """The X25519 shared secret of a raw private and a raw public key."""
    return DH.key_agreement(
        static_priv=DH.import_x25519_private_key(private),
        static_pub=DH.import_x25519_public_key(public),
        kdf=lambda shared: shared,
    )


def _public(private: bytes) -> bytes:
    return DH.import_x25519_private_key(private).public_key().export_key(format="raw")


def public_key(private: bytes) -> str:
    """The backup's public key (unpadded base64) for a private key."""
    return b64encode(_public(private))


def encrypt_session(public: str, plaintext: dict[str, Any]) -> dict[str, str]:
    """``session_data`` for one room key, readable only with the backup's private key."""
    ephemeral = os.urandom(32)  # an X25519 private key is any 32 random bytes (clamped)
    aes_key, mac_key, iv = _derive(_agree(ephemeral, b64decode(public)))
    data = pad(json.dumps(plaintext).encode(), AES.block_size)
    ciphertext = AES.new(aes_key, AES.MODE_CBC, iv=iv).encrypt(data)
    # The spec's MAC covers an empty string (a known flaw kept for compatibility).
    mac = hmac.new(mac_key, b"", sha256).digest()[:8]
    return {
        "ephemeral": b64encode(_public(ephemeral)),
        "ciphertext": b64encode(ciphertext),
        "mac": b64encode(mac),
    }


def decrypt_session(private: bytes, session_data: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`encrypt_session`.

    Raises:
        ValueError: the data does not decrypt with this key.
    """
    aes_key, mac_key, iv = _derive(_agree(private, b64decode(session_data["ephemeral"])))
    mac = hmac.new(mac_key, b"", sha256).digest()[:8]
    if not hmac.compare_digest(mac, b64decode(session_data["mac"])):
        raise ValueError("the backup key does not open this room key")
    data = AES.new(aes_key, AES.MODE_CBC, iv=iv).decrypt(b64decode(session_data["ciphertext"]))
    return json.loads(unpad(data, AES.block_size))


class KeyBackup:
    """The bot's backup version and the room keys it has uploaded to it."""

    def __init__(self, client: AsyncClient, api: MatrixApi, user_id: str):
        self.client = client
        self.api = api
        self.user_id = user_id
        self.private: bytes | None = None
        self.version: str | None = None
        self.uploaded: set[str] = set()
        self.restored = 0

    @property
    def enabled(self) -> bool:
        """Whether a backup version is in use."""
        return self.private is not None and self.version is not None

    def state(self) -> str:
        """The backup, in words."""
        if not self.enabled:
            return "off (needs secret storage: matrix.recovery_key)"
        return (
            f"version {self.version}; {len(self.uploaded)} room keys backed up,"
            f" {self.restored} restored since start"
        )

    async def enable(self, storage: SecretStorage, keys: CrossSigningKeys) -> None:
        """Use the backup whose key secret storage holds; create both if there is none."""
        secret = await storage.get(BACKUP)
        try:
            current = await self.api.request("GET", "/room_keys/version")
        except ApiError as exc:
            if exc.status != 404:
                raise
            current = {}
        if secret is not None:
            private = b64decode(secret)
            auth = current.get("auth_data") or {}
            if current.get("algorithm") == ALGORITHM and auth.get("public_key") == public_key(
                private
            ):
                self.private, self.version = private, str(current["version"])
                return
        else:
            private = os.urandom(32)
            await storage.put(BACKUP, b64encode(private))
        auth_data = sign_object({"public_key": public_key(private)}, self.user_id, keys.master)
        created = await self.api.request(
            "POST", "/room_keys/version", {"algorithm": ALGORITHM, "auth_data": auth_data}
        )
        self.private, self.version = private, str(created["version"])
        self.uploaded.clear()
        log.info("created key backup version %s", self.version)

    async def upload_new(self) -> None:
        """Upload the room keys not backed up yet (one request)."""
        olm = self.client.olm
        if not self.enabled or olm is None or self.private is None:
            return
        public = public_key(self.private)
        rooms: dict[str, dict[str, Any]] = {}
        batch: list[str] = []
        for session in olm.inbound_group_store:
            if session.id in self.uploaded:
                continue
            index = session.first_known_index
            chain = list(session.forwarding_chain or [])
            plaintext = {
                "algorithm": MEGOLM,
                "sender_key": session.sender_key,
                "sender_claimed_keys": {"ed25519": session.ed25519},
                "forwarding_curve25519_key_chain": chain,
                "session_key": session.export_session(index),
            }
            room = rooms.setdefault(session.room_id, {"sessions": {}})
            room["sessions"][session.id] = {
                "first_message_index": index,
                "forwarded_count": len(chain),
                "is_verified": False,
                "session_data": encrypt_session(public, plaintext),
            }
            batch.append(session.id)
        if not batch:
            return
        await self.api.request(
            "PUT", f"/room_keys/keys?version={quote(str(self.version))}", {"rooms": rooms}
        )
        self.uploaded.update(batch)
        log.info("backed up %d room keys", len(batch))

    async def fetch(self, room_id: str, session_id: str) -> bool:
        """Import one room key from the backup; True when it was there."""
        olm = self.client.olm
        if not self.enabled or olm is None or self.private is None or not session_id:
            return False
        path = (
            f"/room_keys/keys/{quote(room_id, safe='')}/{quote(session_id, safe='')}"
            f"?version={quote(str(self.version))}"
        )
        try:
            answer = await self.api.request("GET", path)
            data = decrypt_session(self.private, answer["session_data"])
            session = InboundGroupSession.import_session(
                data["session_key"],
                data["sender_claimed_keys"]["ed25519"],
                data["sender_key"],
                room_id,
                data.get("forwarding_curve25519_key_chain") or [],
            )
        except ApiError as exc:
            if exc.status != 404:
                log.warning("key backup lookup failed: %s", exc)
            return False
        except Exception as exc:  # malformed data or a key vodozemac rejects
            log.warning("a backed-up room key is unreadable: %s", type(exc).__name__)
            return False
        if olm.inbound_group_store.add(session):
            olm.store.save_inbound_group_session(session)
        self.uploaded.add(session.id)
        self.restored += 1
        log.info("restored room key %s from the backup", session_id)
        return True
