"""The outbox's transport: send events with deterministic transaction ids, open DMs."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientError
from nio import AsyncClient, RoomCreateResponse, RoomPreset, RoomSendResponse
from nio.exceptions import LocalProtocolError

from bot.outbox import SendError

# Errors that will not go away by retrying the same request.
PERMANENT = {
    "M_FORBIDDEN",
    "M_NOT_FOUND",
    "M_BAD_JSON",
    "M_NOT_JSON",
    "M_TOO_LARGE",
    "M_UNKNOWN_TOKEN",
    "M_INVALID_PARAM",
}


class NioTransport:
    """Implements :class:`bot.outbox.Transport` with matrix-nio."""

    def __init__(self, client: AsyncClient):
        self.client = client

    async def send_event(
        self, room_id: str, event_type: str, content: dict[str, Any], txn_id: str
    ) -> str:
        """Send one event; the homeserver de-duplicates a resend with the same ``txn_id``."""
        try:
            response = await self.client.room_send(
                room_id, event_type, content, tx_id=txn_id, ignore_unverified_devices=True
            )
        except LocalProtocolError as exc:
            raise SendError(f"cannot send to {room_id}: {exc}", permanent=True) from None
        except (ClientError, OSError, TimeoutError) as exc:
            raise SendError(f"homeserver unreachable ({type(exc).__name__})") from None
        if isinstance(response, RoomSendResponse):
            return response.event_id
        code = getattr(response, "status_code", None) or ""
        raise SendError(
            f"{code} {getattr(response, 'message', '')}".strip(), permanent=code in PERMANENT
        )

    async def open_direct_room(self, user_id: str) -> str:
        """Create a private DM room with ``user_id`` and invite them."""
        try:
            response = await self.client.room_create(
                is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat
            )
        except (ClientError, OSError, TimeoutError) as exc:
            raise SendError(f"homeserver unreachable ({type(exc).__name__})") from None
        if isinstance(response, RoomCreateResponse):
            return response.room_id
        code = getattr(response, "status_code", None) or ""
        raise SendError(f"cannot open a DM: {code}", permanent=code in PERMANENT)
