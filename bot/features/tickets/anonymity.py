"""Keyed fingerprints of reporters, so anonymous tickets keep no user id in clear."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from bot.features.tickets import repository as repo
from bot.services import Services

KEY_NAME = "tickets:anonymity_key"


async def anonymity_key(session: AsyncSession, services: Services) -> bytes:
    """The HMAC key: from config if set, else one generated once and kept in the database."""
    configured = services.settings.tickets.anonymity_key
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    stored = await repo.get_kv(session, key=KEY_NAME)
    if stored is None:
        stored = secrets.token_hex(32)
        await repo.set_kv(session, key=KEY_NAME, value=stored)
        await session.flush()
    return bytes.fromhex(stored)


async def reporter_hash(session: AsyncSession, services: Services, user_id: str) -> str:
    """HMAC-SHA256 of ``user_id``: the same user always maps to the same value.

    Without the key the value cannot be linked to a user id, not even by trying them all.
    """
    key = await anonymity_key(session, services)
    return hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
