"""Held undecryptable events survive a restart (the sync token has moved past them)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from bot.storage import Database
from bot.storage.models import KeyValue

log = logging.getLogger(__name__)


class HeldStore:
    """One JSON row in the key-value table: the encrypted sources (no plaintext)."""

    def __init__(self, db: Database, user_id: str):
        self.db = db
        self.key = f"e2ee_held:{user_id}"

    async def save(self, items: list[dict[str, Any]]) -> None:
        """Replace the stored list."""
        value = json.dumps(items)
        async with self.db.sessions.begin() as session:
            row = await session.get(KeyValue, self.key)
            if row is None:
                session.add(KeyValue(key=self.key, value=value))
            else:
                row.value = value

    async def load(self) -> list[dict[str, Any]]:
        """The stored list (empty when none or unreadable)."""
        async with self.db.sessions() as session:
            row = await session.get(KeyValue, self.key)
        if row is None:
            return []
        try:
            items = json.loads(row.value)
        except ValueError:
            log.warning("ignoring unreadable held events")
            return []
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def wall_to_monotonic(wall: float) -> float:
    """A monotonic timestamp for a wall-clock one from before a restart."""
    return time.monotonic() - max(0.0, time.time() - wall)
