"""The key nio encrypts its crypto store with (``matrix.store_passphrase``)."""

from __future__ import annotations

import vodozemac

from bot.settings import Settings

# nio raises these when its store was written with another pickle key.
STORE_KEY_ERRORS = (vodozemac.PickleException, vodozemac.LibolmPickleException)
STORE_KEY_PROBLEM = (
    "the crypto store in matrix.store_path cannot be opened with the configured"
    " matrix.store_passphrase (it was written with another one, or without one). Restore"
    " the passphrase it was written with; or move the store away and start with"
    " matrix.recovery_key set, so the bot restores its identity on a new device"
)


def store_key(settings: Settings) -> str:
    """nio's pickle key: ``matrix.store_passphrase``, else nio's own default."""
    passphrase = settings.matrix.store_passphrase
    return passphrase.get_secret_value() if passphrase else "DEFAULT_KEY"
