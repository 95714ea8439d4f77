"""The cross-signing keys (and the backup key) in secret storage, under the recovery key."""

from __future__ import annotations

import logging

from bot.matrix.e2ee.api import MatrixApi
from bot.matrix.e2ee.keystore import CrossSigningKeys
from bot.matrix.e2ee.signing import SigningKey, b64decode, b64encode
from bot.matrix.e2ee.ssss import SecretStorage, SecretStorageError

log = logging.getLogger(__name__)

MASTER = "m.cross_signing.master"
SELF_SIGNING = "m.cross_signing.self_signing"
USER_SIGNING = "m.cross_signing.user_signing"
BACKUP = "m.megolm_backup.v1"


async def open_storage(api: MatrixApi, user_id: str, recovery_key: str | None) -> SecretStorage:
    """Secret storage opened with the configured recovery key.

    Raises:
        SecretStorageError: no recovery key configured, no storage, or the wrong key.
    """
    if not recovery_key:
        raise SecretStorageError("matrix.recovery_key is not set")
    return await SecretStorage.open(api, user_id, recovery_key)


async def load_keys(storage: SecretStorage) -> CrossSigningKeys | None:
    """The cross-signing keys kept in secret storage, or None when any is missing."""
    seeds = [await storage.get(name) for name in (MASTER, SELF_SIGNING, USER_SIGNING)]
    if any(seed is None for seed in seeds):
        return None
    master, self_signing, user_signing = (SigningKey(b64decode(str(s))) for s in seeds)
    return CrossSigningKeys(master, self_signing, user_signing)


async def save_keys(storage: SecretStorage, keys: CrossSigningKeys) -> None:
    """Put the three private keys into secret storage (as Element stores them)."""
    await storage.put(MASTER, b64encode(keys.master.seed))
    await storage.put(SELF_SIGNING, b64encode(keys.self_signing.seed))
    await storage.put(USER_SIGNING, b64encode(keys.user_signing.seed))


async def keys_stored(storage: SecretStorage, keys: CrossSigningKeys) -> bool:
    """Whether secret storage holds exactly ``keys``."""
    try:
        stored = await load_keys(storage)
    except SecretStorageError:
        return False
    return stored is not None and stored.master.seed == keys.master.seed


def fingerprint(public: str | None) -> str:
    """A key in groups of four characters, as a person compares it."""
    if not public:
        return "none"
    return " ".join(public[i : i + 4] for i in range(0, len(public), 4))
