"""Need-to-know in the triage room: only devices cross-signed by their owners.

nio knows nothing of cross-signing, so this module reads ``/keys/query`` itself and
keeps, per user, the devices their owner signed. Two uses:

* room keys for the triage room are not shared with other devices (a wrapper around
  nio's group-session sharing adds them to the session's ignored set);
* in an encrypted triage room, a command sent from a device its owner has not
  cross-signed is refused (a stolen token on a new device cannot act as the team).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from nio import AsyncClient

from bot.matrix.e2ee.api import MatrixApi
from bot.matrix.e2ee.identity import device_cross_signed

log = logging.getLogger(__name__)

REFRESH_SECONDS = 30.0


class DeviceTrust:
    """Which devices of which users are cross-signed, as last read from the server."""

    def __init__(self, client: AsyncClient, api: MatrixApi):
        self.client = client
        self.api = api
        self.signed: dict[str, set[str]] = {}  # user -> cross-signed device ids
        self.known: dict[str, set[str]] = {}  # user -> device ids seen in that answer
        self.by_key: dict[str, dict[str, str]] = {}  # user -> curve25519 key -> device id
        self._checked_at = 0.0

    async def refresh(self, users: set[str], *, force: bool = False) -> None:
        """Re-read ``users``' keys when stale, or when nio knows devices we have not seen."""
        users = {u for u in users if u}
        if not users:
            return
        stale = time.monotonic() - self._checked_at >= REFRESH_SECONDS
        if not (force or stale or any(self._unseen(u) for u in users)):
            return
        answer = await self.api.query_keys(sorted(users))
        for user in users:
            devices = (answer.get("device_keys") or {}).get(user) or {}
            self.known[user] = set(devices)
            self.signed[user] = {d for d in devices if device_cross_signed(answer, user, d)}
            self.by_key[user] = {
                key: device_id
                for device_id, device in devices.items()
                if isinstance(device, dict)
                for key_id, key in (device.get("keys") or {}).items()
                if key_id == f"curve25519:{device_id}" and isinstance(key, str)
            }
        self._checked_at = time.monotonic()

    def _unseen(self, user: str) -> bool:
        ids = {d.id for d in self.client.device_store.active_user_devices(user)}
        return not ids <= self.known.get(user, set())

    def is_signed(self, user: str, device_id: str) -> bool:
        """Whether ``device_id`` of ``user`` was cross-signed by its owner (fail closed)."""
        return device_id in self.signed.get(user, set())

    def unsigned_devices(self, users: set[str]) -> Iterator[tuple[str, str]]:
        """(user, device) pairs nio knows that are not cross-signed by their owner."""
        for user in users:
            for device in self.client.device_store.active_user_devices(user):
                if not self.is_signed(user, device.id):
                    yield user, device.id

    async def sender_signed(self, user: str, sender_key: str) -> bool:
        """Whether the device that owns ``sender_key`` is cross-signed by ``user``."""
        device_id = self.by_key.get(user, {}).get(sender_key)
        if device_id is None:
            await self.refresh({user}, force=True)
            device_id = self.by_key.get(user, {}).get(sender_key)
        return device_id is not None and self.is_signed(user, device_id)


def restrict_sharing(
    client: AsyncClient, trust: DeviceTrust, restricted: Callable[[str], set[str] | None]
) -> None:
    """Make nio skip non-cross-signed devices when it shares a restricted room's key.

    ``restricted(room_id)`` gives the room's members when the room is need-to-know,
    else None. Idempotent.
    """
    olm = client.olm
    if olm is None or getattr(olm, "_helpdesk_restricted", False):
        return
    original = olm.share_group_session_parallel

    def share(room_id: str, users: list[str], *args: Any, **kwargs: Any) -> Any:
        members = restricted(room_id)
        if members is not None:
            session = olm.outbound_group_sessions.get(room_id)
            if session is None or session.shared:
                olm.create_outbound_group_session(room_id)  # as nio would, but first
                session = olm.outbound_group_sessions[room_id]
            excluded = set(trust.unsigned_devices(set(users)))
            # A device signed since an earlier share may have the key now.
            session.users_ignored -= {p for p in session.users_ignored if p not in excluded}
            session.users_ignored |= excluded
            if excluded:
                log.info("triage room key not shared with %d unsigned devices", len(excluded))
        return original(room_id, users, *args, **kwargs)

    olm.share_group_session_parallel = share  # type: ignore[method-assign]
    olm._helpdesk_restricted = True  # type: ignore[attr-defined]
