"""Secret storage (SSSS, ``m.secret_storage.v1.aes-hmac-sha2``) under a recovery key.

The same format Element uses, so a person could also open the bot's secret storage with
Element and its recovery key: HKDF-SHA-256 (zero salt, the secret's name as info) gives
an AES-256-CTR key and an HMAC-SHA-256 key; the recovery key is the base58 text of
``0x8B 0x01 || key || parity``.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from Crypto.Cipher import AES
from Crypto.Hash import SHA256
from Crypto.Protocol.KDF import HKDF

from bot.matrix.e2ee.api import MatrixApi
from bot.matrix.e2ee.signing import b64decode, b64encode

ALGORITHM = "m.secret_storage.v1.aes-hmac-sha2"
DEFAULT_KEY = "m.secret_storage.default_key"
KEY_PREFIX = "m.secret_storage.key."
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_HEADER = bytes([0x8B, 0x01])


class SecretStorageError(Exception):
    """The recovery key is malformed or wrong, or a secret cannot be decrypted."""


def _b58encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rem = divmod(number, 58)
        out = _ALPHABET[rem] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = _ALPHABET.find(char)
        if index < 0:
            raise SecretStorageError("the recovery key contains a character it cannot have")
        number = number * 58 + index
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def encode_recovery_key(key: bytes) -> str:
    """The recovery key text a person writes down (groups of four characters)."""
    data = _HEADER + key
    parity = 0
    for byte in data:
        parity ^= byte
    text = _b58encode(data + bytes([parity]))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def decode_recovery_key(text: str) -> bytes:
    """The 32-byte key from its text form.

    Raises:
        SecretStorageError: malformed (wrong header, length or parity).
    """
    data = _b58decode("".join(text.split()))
    parity = 0
    for byte in data:
        parity ^= byte
    if len(data) != 35 or data[:2] != _HEADER or parity != 0:
        raise SecretStorageError("this is not a valid recovery key (check for typos)")
    return data[2:34]


def _keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    okm = HKDF(key, 64, bytes(32), SHA256, context=name.encode())
    return okm[:32], okm[32:]


def _ctr(key: bytes, iv: bytes) -> Any:
    # The whole 16-byte IV is the initial counter block (a 128-bit big-endian counter).
    return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv)


def encrypt(key: bytes, name: str, secret: str) -> dict[str, str]:
    """``{iv, ciphertext, mac}`` for ``secret`` stored under ``name``."""
    aes_key, mac_key = _keys(key, name)
    iv = bytearray(os.urandom(16))
    iv[8] &= 0x7F  # as the spec asks: room for the counter without wrapping
    ciphertext = _ctr(aes_key, bytes(iv)).encrypt(secret.encode())
    mac = hmac.new(mac_key, ciphertext, sha256).digest()
    return {"iv": b64encode(bytes(iv)), "ciphertext": b64encode(ciphertext), "mac": b64encode(mac)}


def decrypt(key: bytes, name: str, payload: dict[str, Any]) -> str:
    """Inverse of :func:`encrypt`.

    Raises:
        SecretStorageError: the MAC does not match (wrong key or tampered data).
    """
    aes_key, mac_key = _keys(key, name)
    try:
        ciphertext = b64decode(payload["ciphertext"])
        iv, mac = b64decode(payload["iv"]), b64decode(payload["mac"])
    except (KeyError, TypeError, ValueError):
        raise SecretStorageError(f"secret {name} is malformed") from None
    if not hmac.compare_digest(hmac.new(mac_key, ciphertext, sha256).digest(), mac):
        raise SecretStorageError(f"secret {name} does not open with this key")
    return _ctr(aes_key, iv).decrypt(ciphertext).decode()


def key_check(key: bytes) -> dict[str, str]:
    """The ``iv`` and ``mac`` a key description carries to recognise the right key."""
    check = encrypt(key, "", "\0" * 32)
    return {"iv": check["iv"], "mac": check["mac"]}


def key_matches(key: bytes, description: dict[str, Any]) -> bool:
    """Whether ``key`` is the key ``description`` was made for."""
    try:
        iv = b64decode(description["iv"])
        expected = b64decode(description["mac"])
    except (KeyError, TypeError, ValueError):
        return False
    aes_key, mac_key = _keys(key, "")
    ciphertext = _ctr(aes_key, iv).encrypt(bytes(32))
    return hmac.compare_digest(hmac.new(mac_key, ciphertext, sha256).digest(), expected)


@dataclass
class SecretStorage:
    """The account's secret storage, opened with one key."""

    api: MatrixApi
    user_id: str
    key_id: str
    key: bytes

    @classmethod
    async def create(cls, api: MatrixApi, user_id: str) -> tuple[SecretStorage, str]:
        """A new default key; returns the storage and the recovery key text (show once)."""
        key = os.urandom(32)
        key_id = b64encode(os.urandom(24))
        description = {"algorithm": ALGORITHM, "name": "helpdesk-bot", **key_check(key)}
        await api.put_account_data(user_id, KEY_PREFIX + key_id, description)
        await api.put_account_data(user_id, DEFAULT_KEY, {"key": key_id})
        return cls(api, user_id, key_id, key), encode_recovery_key(key)

    @classmethod
    async def open(cls, api: MatrixApi, user_id: str, recovery_key: str) -> SecretStorage:
        """The default secret storage, checked against ``recovery_key``.

        Raises:
            SecretStorageError: no secret storage, or the key is not its key.
        """
        key = decode_recovery_key(recovery_key)
        default = await api.get_account_data(user_id, DEFAULT_KEY)
        key_id = (default or {}).get("key")
        if not isinstance(key_id, str):
            raise SecretStorageError("the account has no secret storage yet (run crypto setup)")
        description = await api.get_account_data(user_id, KEY_PREFIX + key_id) or {}
        if description.get("algorithm") != ALGORITHM or not key_matches(key, description):
            raise SecretStorageError("matrix.recovery_key is not this account's recovery key")
        return cls(api, user_id, key_id, key)

    @staticmethod
    async def exists(api: MatrixApi, user_id: str) -> bool:
        """Whether the account has a default secret storage key."""
        return bool((await api.get_account_data(user_id, DEFAULT_KEY) or {}).get("key"))

    async def get(self, name: str) -> str | None:
        """The secret ``name``, or None when it is not stored under this key."""
        data = await self.api.get_account_data(self.user_id, name)
        payload = ((data or {}).get("encrypted") or {}).get(self.key_id)
        return decrypt(self.key, name, payload) if isinstance(payload, dict) else None

    async def put(self, name: str, secret: str) -> None:
        """Store ``secret`` under ``name``, encrypted with this key."""
        await self.api.put_account_data(
            self.user_id, name, {"encrypted": {self.key_id: encrypt(self.key, name, secret)}}
        )
