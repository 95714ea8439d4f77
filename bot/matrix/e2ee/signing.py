"""Ed25519 keys and signed JSON, as the Matrix spec signs objects (canonical JSON).

The primitives here and in ``ssss`` and ``backup`` come from pycryptodome (``Crypto``),
which matrix-nio already loads: `cryptography` would add about 8 MB of resident memory
to the running bot for the same Ed25519, X25519, HKDF and AES.
"""

from __future__ import annotations

import base64
import copy
import os
from dataclasses import dataclass
from typing import Any

from canonicaljson import encode_canonical_json
from Crypto.Signature import eddsa


def b64encode(data: bytes) -> str:
    """Unpadded standard base64, the encoding Matrix uses for keys and signatures."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    """Decode unpadded (or padded) standard or URL-safe base64."""
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    if "-" in text or "_" in text:
        return base64.urlsafe_b64decode(padded)
    return base64.b64decode(padded)


def signable(obj: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the object without ``signatures`` and ``unsigned``."""
    body = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    return encode_canonical_json(body)


@dataclass(frozen=True)
class SigningKey:
    """An ed25519 private key, kept as its 32-byte seed (how Matrix clients store it)."""

    seed: bytes

    @classmethod
    def generate(cls) -> SigningKey:
        """A new random key."""
        return cls(os.urandom(32))  # an Ed25519 private key is any 32 random bytes

    @property
    def public(self) -> str:
        """The public key, unpadded base64 (also the key's id after ``ed25519:``)."""
        key = eddsa.import_private_key(self.seed).public_key()
        return b64encode(key.export_key(format="raw"))

    def sign(self, obj: dict[str, Any]) -> str:
        """The signature of ``obj`` (canonical JSON), unpadded base64."""
        signer = eddsa.new(eddsa.import_private_key(self.seed), "rfc8032")
        return b64encode(signer.sign(signable(obj)))


def add_signature(obj: dict[str, Any], user_id: str, key_id: str, signature: str) -> dict[str, Any]:
    """A copy of ``obj`` with ``signature`` merged into its ``signatures``."""
    signed = copy.deepcopy(obj)
    signed.setdefault("signatures", {}).setdefault(user_id, {})[key_id] = signature
    return signed


def sign_object(obj: dict[str, Any], user_id: str, key: SigningKey) -> dict[str, Any]:
    """``obj`` signed by ``key`` (key id ``ed25519:<public key>``) as ``user_id``."""
    return add_signature(obj, user_id, f"ed25519:{key.public}", key.sign(obj))


def verify_object(obj: dict[str, Any], user_id: str, key_id: str, public: str) -> bool:
    """Whether ``obj`` carries a valid signature by ``public`` under ``user_id``/``key_id``."""
    signature = ((obj.get("signatures") or {}).get(user_id) or {}).get(key_id)
    if not isinstance(signature, str):
        return False
    try:
        key = eddsa.import_public_key(b64decode(public))
        eddsa.new(key, "rfc8032").verify(signable(obj), b64decode(signature))
    except ValueError:  # a bad signature, or a malformed key or signature
        return False
    return True


def only_key(cross_signing_key: dict[str, Any] | None) -> str | None:
    """The single ed25519 public key of a cross-signing key object, or None."""
    keys = (cross_signing_key or {}).get("keys") or {}
    values = [v for k, v in keys.items() if k.startswith("ed25519:") and isinstance(v, str)]
    return values[0] if len(values) == 1 else None
