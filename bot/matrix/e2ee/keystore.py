"""The bot's private cross-signing keys on disk, next to nio's store (owner-only file)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from bot.matrix.e2ee.signing import SigningKey, b64decode, b64encode

log = logging.getLogger(__name__)

FILE_NAME = "cross_signing.json"


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

    def __init__(self, store_path: Path, user_id: str):
        self.path = Path(store_path) / FILE_NAME
        self.user_id = user_id

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
            return CrossSigningKeys.from_json(data["keys"])
        except (KeyError, TypeError, ValueError):
            log.error("%s is damaged; treating the cross-signing keys as lost", self.path)
            return None

    def save(self, keys: CrossSigningKeys) -> None:
        """Write the keys (before they are published, so a crash cannot lose them)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"user_id": self.user_id, "keys": keys.to_json()}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
