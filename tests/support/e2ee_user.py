"""A person with an end-to-end encrypting client (matrix-nio with its own crypto store).

Like Element: opens encrypted DMs, sends encrypted messages to every device in the room
(unverified included) and decrypts what it receives. It does its own key upload, query
and claim after each sync (written out here rather than borrowed from the bot, so the
test does not share the bot's assumptions).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    Event,
    MegolmEvent,
    RoomCreateResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from bot.dev.devserver import LocalSynapse

MEGOLM = "m.megolm.v1.aes-sha2"
# Synapse caps the timeline at 100 per room per sync; a limited one is back-filled.
_FILTER = {"room": {"timeline": {"limit": 100}}, "presence": {"not_types": ["*"]}}


@dataclass
class Received:
    room_id: str
    event: Event  # decrypted when the client had the key (then ``event.decrypted``)

    @property
    def source(self) -> dict[str, Any]:
        return self.event.source


class E2EEUser:
    """One logged-in encrypting client; call :meth:`close` when done."""

    def __init__(self, client: AsyncClient):
        self.client = client
        self.user_id = client.user_id
        self.received: list[Received] = []
        self._seen: set[str] = set()

    @classmethod
    async def create(cls, hs: LocalSynapse, localpart: str, store_dir: Path) -> E2EEUser:
        """Register ``localpart`` and log in a fresh device with its store in ``store_dir``."""
        password = f"{localpart}-password"
        resp = await asyncio.to_thread(hs.register, localpart, password)
        store_dir.mkdir(parents=True, exist_ok=True)
        client = AsyncClient(
            hs.url,
            resp["user_id"],
            store_path=str(store_dir),
            config=AsyncClientConfig(encryption_enabled=True, store_sync_tokens=False),
        )
        client.restore_login(resp["user_id"], resp["device_id"], resp["access_token"])
        user = cls(client)
        await user.sync(timeout_ms=0)
        return user

    async def sync(self, timeout_ms: int = 1000) -> list[Received]:
        """Sync once, then exchange keys as nio's sync_forever would; returns new events."""
        resp = await self.client.sync(timeout=timeout_ms, sync_filter=_FILTER)
        if not isinstance(resp, SyncResponse):
            raise RuntimeError(f"sync failed: {resp}")
        new: list[Received] = []
        for room_id, info in resp.rooms.join.items():
            events = list(info.timeline.events)
            if info.timeline.limited and info.timeline.prev_batch and self._seen:
                events = await self._fill_gap(room_id, info.timeline.prev_batch) + events
            for event in events:
                if event.event_id not in self._seen:
                    self._seen.add(event.event_id)
                    new.append(Received(room_id, event))
        self.received.extend(new)
        await self._exchange_keys()
        return new

    async def _fill_gap(self, room_id: str, prev_batch: str) -> list[Event]:
        """Page back from ``prev_batch`` to the last event seen (nio decrypts pages)."""
        older: list[Event] = []
        token = prev_batch
        for _ in range(50):
            page = await self.client.room_messages(room_id, start=token, limit=100)
            if not isinstance(page, RoomMessagesResponse):
                raise RuntimeError(f"/messages failed: {page}")
            for event in page.chunk:
                if event.event_id in self._seen:
                    return older[::-1]
                older.append(event)
            if not page.chunk or not page.end:
                break
            token = page.end
        return older[::-1]

    async def _exchange_keys(self) -> None:
        c = self.client
        if c.outgoing_to_device_messages:
            await c.send_to_device_messages()
        if c.should_upload_keys:
            await c.keys_upload()
        if c.should_query_keys:
            await c.keys_query()
        if c.should_claim_keys:
            await c.keys_claim(c.get_users_for_key_claiming())

    async def create_encrypted_dm(self, other: str) -> str:
        """Open a DM with ``other`` the way Element does: encrypted from the start."""
        resp = await self.client.room_create(
            is_direct=True,
            invite=[other],
            preset=RoomPreset.trusted_private_chat,
            initial_state=[
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": MEGOLM}}
            ],
        )
        assert isinstance(resp, RoomCreateResponse), resp
        while resp.room_id not in self.client.rooms:
            await self.sync(timeout_ms=500)
        return resp.room_id

    async def wait_joined(self, room_id: str, user_id: str, timeout: float = 30) -> None:
        """Until ``user_id`` has joined ``room_id`` (as this client's sync sees it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            room = self.client.rooms.get(room_id)
            if room and user_id in room.users and user_id not in room.invited_users:
                await self.sync(timeout_ms=0)  # and learn its devices
                return
            await self.sync(timeout_ms=500)
        raise AssertionError(f"{user_id} never joined {room_id}")

    async def send(self, room_id: str, body: str) -> str:
        """Send an encrypted ``m.text`` (to every device, verified or not); its event id."""
        assert self.client.rooms[room_id].encrypted, "room is not encrypted"
        resp = await self.client.room_send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body},
            ignore_unverified_devices=True,
        )
        assert isinstance(resp, RoomSendResponse), resp
        return resp.event_id

    async def wait_reply(self, room_id: str, sender: str, question: str, timeout: float = 30):
        """The first event from ``sender`` in ``room_id`` replying to ``question``, or None."""
        deadline = time.monotonic() + timeout
        while True:
            for item in self.received:
                if item.room_id == room_id and _replies(item, sender, question):
                    return item
            if time.monotonic() >= deadline:
                return None
            await self.sync(timeout_ms=1000)

    def undecrypted(self, room_id: str) -> list[Received]:
        """Events in ``room_id`` this client could not decrypt."""
        return [
            r for r in self.received if r.room_id == room_id and isinstance(r.event, MegolmEvent)
        ]

    async def close(self) -> None:
        await self.client.close()


def _replies(item: Received, sender: str, question: str) -> bool:
    if getattr(item.event, "sender", None) != sender:
        return False
    relates = (item.source.get("content") or {}).get("m.relates_to") or {}
    return (relates.get("m.in_reply_to") or {}).get("event_id") == question


async def wait_invite(user: E2EEUser, timeout: float = 30) -> str:
    """Until ``user`` has a pending invite; join it and return the room id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for room_id in list(user.client.invited_rooms):
            await user.client.join(room_id)
            while room_id not in user.client.rooms:
                await user.sync(timeout_ms=500)
            return room_id
        await user.sync(timeout_ms=500)
    raise AssertionError(f"{user.user_id} was never invited")
