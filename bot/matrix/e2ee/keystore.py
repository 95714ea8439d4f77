"""The bot's private cross-signing keys on disk, next to nio's store (owner-only file).

With ``matrix.store_passphrase`` the keys are encrypted (PBKDF2-SHA-256 to a key, then
the secret-storage cipher, AES-CTR + HMAC-SHA-256), like nio's store with its pickle key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from bot.matrix.e2ee.signing import SigningKey, b64decode, b64encode
from bot.matrix.e2ee.ssss import SecretStorageError, decrypt, encrypt

log = logging.getLogger(__name__)

FILE_NAME = "cross_signing.json"
SECRET_NAME = "org.helpdesk.cross_signing"
PBKDF2_ROUNDS = 200_000


@dataclass(frozen=True)
class CrossSigningKeys:
    """The three private keys of a cross-signing identity."""

    master: SigningKey
    self_signing: SigningKey
    user_signing: SigningKey

    @classmethod
    def generate(cls) -> CrossSigningKeys:
        """A brand-new identity."""
        return cls(SigningKey.generate(), SigningKey.generate(), SigningKey.generate())

    def to_json(self) -> dict[str, str]:
        """The seeds, base64 (the form secret storage keeps them in too)."""
        return {
            "master": b64encode(self.master.seed),
            "self_signing": b64encode(self.self_signing.seed),
            "user_signing": b64encode(self.user_signing.seed),
        }

    @classmethod
    def from_json(cls, data: dict[str, str]) -> CrossSigningKeys:
        """Inverse of :meth:`to_json`."""
        return cls(
            SigningKey(b64decode(data["master"])),
            SigningKey(b64decode(data["self_signing"])),
            SigningKey(b64decode(data["user_signing"])),
        )


class KeyFile:
    """Reads and writes ``<store_path>/cross_signing.json`` (mode 0600, atomic writes)."""

    def __init__(self, store_path: Path, user_id: str, passphrase: str | None = None):
        self.path = Path(store_path) / FILE_NAME
        self.user_id = user_id
        self._passphrase = passphrase
        self._key: bytes | None = None

    def _file_key(self) -> bytes:
        if self._key is None:
            assert self._passphrase is not None
            self._key = hashlib.pbkdf2_hmac(
                "sha256",
                self._passphrase.encode(),
                f"helpdesk-bot:{self.user_id}".encode(),
                PBKDF2_ROUNDS,
            )
        return self._key

    def load(self) -> CrossSigningKeys | None:
        """The stored keys for this account, or None (absent or unreadable: logged)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.error("cannot read %s; treating the cross-signing keys as lost", self.path)
            return None
        if not isinstance(data, dict) or data.get("user_id") != self.user_id:
            log.warning("%s is for another account; ignoring it", self.path)
            return None
        try:
            if "encrypted" in data:
                if self._passphrase is None:
                    log.error("%s is encrypted but matrix.store_passphrase is not set", self.path)
                    return None
                plain = json.loads(decrypt(self._file_key(), SECRET_NAME, data["encrypted"]))
                return CrossSigningKeys.from_json(plain)
            keys = CrossSigningKeys.from_json(data["keys"])
            if self._passphrase is not None:
                self.save(keys)  # a store from before the passphrase: encrypt it now
            return keys
        except SecretStorageError:
            log.error("matrix.store_passphrase does not open %s", self.path)
            return None
        except (KeyError, TypeError, ValueError):
            log.error("%s is damaged; treating the cross-signing keys as lost", self.path)
            return None

    def save(self, keys: CrossSigningKeys) -> None:
        """Write the keys (before they are published, so a crash cannot lose them)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self._document(keys), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def _document(self, keys: CrossSigningKeys) -> dict[str, object]:
        if self._passphrase is None:
            return {"user_id": self.user_id, "keys": keys.to_json()}
        secret = json.dumps(keys.to_json())
        return {
            "user_id": self.user_id,
            "encrypted": encrypt(self._file_key(), SECRET_NAME, secret),
        }
