"""A minimal async Matrix client: what the tests use to act as human users.

It speaks the client-server API directly with aiohttp (no nio), so it never shares the
bot's assumptions, and it runs in the same event loop as the bot under test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.dev.devserver import LocalSynapse

Predicate = Callable[[dict], bool]
_API = "/_matrix/client/v3"
# Synapse caps the timeline at 100 events per room per sync whatever we ask for; a
# limited timeline is back-filled from /messages (see _fill_gap).
_FILTER = json.dumps({"room": {"timeline": {"limit": 1000}}, "presence": {"not_types": ["*"]}})
_txn_counter = itertools.count()


class MatrixError(RuntimeError):
    """A non-2xx answer from the homeserver."""

    def __init__(self, method: str, path: str, status: int, body: dict) -> None:
        super().__init__(f"{method} {path} -> {status}: {body}")
        self.status = status
        self.errcode: str | None = body.get("errcode")


def _q(part: str) -> str:
    return quote(part, safe="")


class MatrixUser:
    """One logged-in user with its own HTTP session and sync position."""

    def __init__(
        self, homeserver: str, user_id: str, access_token: str, *, device_id: str | None = None
    ) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self.access_token = access_token
        self.device_id = device_id
        self.since: str | None = None
        self.events: list[dict] = []  # every timeline event seen, oldest first, with room_id
        self.invites: dict[str, list[dict]] = {}  # room_id -> stripped invite state
        self.rate_limited = 0  # how many 429s were waited out
        self._seen: set[str] = set()
        self._session: aiohttp.ClientSession | None = None  # made lazily, inside the loop

    async def __aenter__(self) -> MatrixUser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        params: dict[str, str] | None = None,
        http_timeout: float = 60,
    ) -> dict:
        """Call the API; wait out 429s as told by ``retry_after_ms``.

        Raises:
            MatrixError: any other non-2xx answer.
        """
        if self._session is None:
            auth = {"Authorization": f"Bearer {self.access_token}"}
            self._session = aiohttp.ClientSession(headers=auth)
        while True:
            async with self._session.request(
                method, self.homeserver + path, json=body, params=params,
                timeout=aiohttp.ClientTimeout(total=http_timeout),
            ) as resp:  # fmt: skip
                try:
                    data = await resp.json(content_type=None) or {}
                except ValueError:
                    data = {"error": (await resp.text())[:300]}
                if resp.status < 300:
                    return data
            if resp.status == 429:
                self.rate_limited += 1
                await asyncio.sleep(data.get("retry_after_ms", 1000) / 1000)
                continue
            raise MatrixError(method, path, resp.status, data)

    async def create_room(
        self,
        alias_localpart: str | None = None,
        *,
        public: bool = False,
        invite: Sequence[str] = (),
        name: str | None = None,
        is_direct: bool = False,
    ) -> str:
        """Create a room and return its id."""
        body: dict[str, Any] = {
            "preset": "public_chat" if public else "private_chat",
            "visibility": "public" if public else "private",
            "invite": list(invite),
            "is_direct": is_direct,
        }
        if alias_localpart:
            body["room_alias_name"] = alias_localpart
        if name:
            body["name"] = name
        return (await self.request("POST", f"{_API}/createRoom", body))["room_id"]

    async def create_dm(self, other_user_id: str) -> str:
        """Open a direct chat with ``other_user_id`` (invited) and return the room id."""
        body = {"preset": "trusted_private_chat", "is_direct": True, "invite": [other_user_id]}
        return (await self.request("POST", f"{_API}/createRoom", body))["room_id"]

    async def join(self, room_id_or_alias: str) -> str:
        """Join a room by id or alias and return the room id."""
        resp = await self.request("POST", f"{_API}/join/{_q(room_id_or_alias)}", {})
        self.invites.pop(resp["room_id"], None)
        return resp["room_id"]

    async def invite(self, room_id: str, user_id: str) -> None:
        """Invite ``user_id`` into ``room_id``."""
        await self.request("POST", f"{_API}/rooms/{_q(room_id)}/invite", {"user_id": user_id})

    async def leave(self, room_id: str) -> None:
        """Leave ``room_id`` (or reject an invite to it)."""
        await self.request("POST", f"{_API}/rooms/{_q(room_id)}/leave", {})
        self.invites.pop(room_id, None)

    async def joined_members(self, room_id: str) -> list[str]:
        """User ids currently joined to ``room_id`` (not invited ones)."""
        resp = await self.request("GET", f"{_API}/rooms/{_q(room_id)}/joined_members")
        return list(resp["joined"])

    async def send(
        self, room_id: str, body: str, *, msgtype: str = "m.text", extra: dict | None = None
    ) -> str:
        """Send an ``m.room.message`` and return its event id.

        Args:
            room_id: The room.
            body: Plain-text body.
            msgtype: ``m.text``, ``m.notice``...
            extra: More content keys (``formatted_body``, ``m.relates_to``...).
        """
        content = {"msgtype": msgtype, "body": body, **(extra or {})}
        return await self._send_event(room_id, "m.room.message", content)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """Annotate ``event_id`` with ``key`` (e.g. an emoji); return the reaction's id."""
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        return await self._send_event(room_id, "m.reaction", content)

    async def _send_event(self, room_id: str, event_type: str, content: dict) -> str:
        # A fresh txn id per call: each call is a new message, not a retry.
        txn = f"{uuid.uuid4().hex}-{next(_txn_counter)}"
        path = f"{_API}/rooms/{_q(room_id)}/send/{event_type}/{txn}"
        return (await self.request("PUT", path, content))["event_id"]

    async def sync(self, timeout_ms: int = 1000) -> list[dict]:
        """Sync once; record and return the new timeline events (with ``room_id``)."""
        params = {"timeout": str(timeout_ms), "filter": _FILTER}
        if self.since:
            params["since"] = self.since
        resp = await self.request(
            "GET", f"{_API}/sync", params=params, http_timeout=timeout_ms / 1000 + 30
        )
        rooms = resp.get("rooms", {})
        new: list[dict] = []
        for room_id, room in rooms.get("join", {}).items():
            self.invites.pop(room_id, None)
            timeline = room.get("timeline", {})
            events = timeline.get("events", [])
            if timeline.get("limited") and self.since and timeline.get("prev_batch"):
                events = await self._fill_gap(room_id, timeline["prev_batch"]) + events
            new.extend(self._record(room_id, events))
        for room_id, room in rooms.get("leave", {}).items():
            self.invites.pop(room_id, None)
            new.extend(self._record(room_id, room.get("timeline", {}).get("events", [])))
        for room_id, room in rooms.get("invite", {}).items():
            self.invites[room_id] = room.get("invite_state", {}).get("events", [])
        self.since = resp["next_batch"]
        return new

    def _record(self, room_id: str, events: list[dict]) -> list[dict]:
        fresh = []
        for ev in events:
            if ev.get("event_id") in self._seen:
                continue
            self._seen.add(ev.get("event_id", ""))
            fresh.append({**ev, "room_id": room_id})
        self.events.extend(fresh)
        return fresh

    async def _fill_gap(self, room_id: str, prev_batch: str, max_pages: int = 50) -> list[dict]:
        """Page back from ``prev_batch`` to the last event already seen; oldest first."""
        older: list[dict] = []
        token = prev_batch
        for _ in range(max_pages):
            params = {"dir": "b", "from": token, "limit": "100"}
            page = await self.request("GET", f"{_API}/rooms/{_q(room_id)}/messages", params=params)
            for ev in page.get("chunk", []):
                if ev.get("event_id") in self._seen:
                    return older[::-1]
                older.append(ev)
            token = page.get("end")
            if not page.get("chunk") or not token:
                break
        return older[::-1]

    # A timeout argument (not asyncio.timeout) because running out is an answer here
    # (None / a short list), not an error.
    async def wait_for(self, pred: Predicate, timeout: float) -> dict | None:
        """Return the first event (already seen, else newly synced) matching ``pred``.

        Returns:
            The event, or None if none arrived within ``timeout`` seconds.
        """
        found = await self.wait_for_all(pred, 1, timeout)
        return found[0] if found else None

    async def wait_for_all(
        self,
        pred: Predicate,
        count: int,
        timeout: float,
    ) -> list[dict]:
        """Sync until ``count`` events (seen ones included) match ``pred``, or timeout.

        Returns:
            The matching events, oldest first; fewer than ``count`` on timeout.
        """
        matched = [ev for ev in self.events if pred(ev)]
        deadline = time.monotonic() + timeout
        while len(matched) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            new = await self.sync(timeout_ms=int(min(2000, max(50, left * 1000))))
            matched.extend(ev for ev in new if pred(ev))
        return matched[:count]

    async def drain(self) -> None:
        """Catch up with the server without waiting, then forget every event seen so far."""
        await self.sync(timeout_ms=0)
        self.events.clear()

    async def close(self) -> None:
        """Close the HTTP session (the access token stays valid)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def reply_to(event: dict) -> str | None:
    """The event id ``event`` replies to (``m.in_reply_to``), if any."""
    rel = event.get("content", {}).get("m.relates_to") or {}
    return (rel.get("m.in_reply_to") or {}).get("event_id")


def text_of(event: dict) -> str:
    """The plain ``body`` and the HTML ``formatted_body`` of a message, joined."""
    content = event.get("content", {})
    return f"{content.get('body') or ''}\n{content.get('formatted_body') or ''}"


async def make_user(
    synapse: LocalSynapse, localpart: str, *, password: str | None = None, admin: bool = False
) -> MatrixUser:
    """Register ``localpart`` (or log in if it exists) and return a client for it."""
    password = password or f"{localpart}-password"
    resp = await asyncio.to_thread(synapse.register, localpart, password, admin=admin)
    return MatrixUser(
        synapse.url, resp["user_id"], resp["access_token"], device_id=resp.get("device_id")
    )
