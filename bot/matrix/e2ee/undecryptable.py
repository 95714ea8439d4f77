"""Messages the bot cannot decrypt yet: kept, retried when the key comes, never silent.

An encrypted event without its room key is held (not claimed). After every sync the held
events are tried again, so a room key, a forwarded key or a key from the backup that
arrived meanwhile gets the message decrypted and answered once, as if it had just come
in. Key requests go to the sender's devices (nio only asks the bot's own). After
``matrix.undecryptable_grace`` the event is given up: claimed, and in a DM answered once
with a notice that says why (the sender's ``m.room_key.withheld`` code when one came).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nio import AsyncClient, Event, MegolmEvent
from nio.exceptions import EncryptionError, LocalProtocolError
from prometheus_client import CollectorRegistry, Counter

from bot.matrix.e2ee.api import MatrixApi
from bot.matrix.e2ee.heldstore import HeldStore, wall_to_monotonic
from bot.matrix.e2ee.report import save_counts

log = logging.getLogger(__name__)

WITHHELD_TYPES = ("m.room_key.withheld", "org.matrix.room_key.withheld")
KNOWN_CODES = ("m.unverified", "m.blacklisted", "m.no_olm", "m.unavailable", "m.unauthorised")
NO_KEY = "no_key"  # no withheld code: the key simply never reached the bot's device
MAX_HELD = 1000
DAY = 24 * 3600.0

_ADVICE = {
    "m.unverified": (
        "your app did not share the message's key with me because it does not trust my"
        " device (code m.unverified). Check that you see my device as verified by its"
        " owner, or turn off 'only send to verified sessions' for this chat"
    ),
    "m.blacklisted": (
        "your app has blocked my device (code m.blacklisted). Unblock it in your security"
        " settings if you want me to read your messages"
    ),
    "m.no_olm": (
        "your app could not open a secure channel to my device (code m.no_olm). Wait a"
        " minute; if it keeps happening, sign out and in again in your app"
    ),
    "m.unavailable": (
        "the key was asked for but nobody had it (code m.unavailable). Your app may have"
        " been offline"
    ),
    "m.unauthorised": "your app refused to share the key with me (code m.unauthorised)",
    NO_KEY: (
        "its key never reached my device (your app may be offline, or sent it before I"
        " could receive keys)"
    ),
}


def notice_text(reason: str) -> str:
    """The DM notice for an event given up for ``reason``."""
    advice = _ADVICE.get(reason, f"the key was withheld ({reason})")
    return f"I could not decrypt your last message: {advice}. Please send it again."


@dataclass
class Held:
    """One event waiting for its key."""

    room_id: str
    source: dict[str, Any]
    direct: bool
    since: float = field(default_factory=time.monotonic)
    backup_tried: bool = False  # our backup holds only keys we had before: ask it once


class Undecryptable:
    """The held events and what to do with them."""

    def __init__(
        self,
        client: AsyncClient,
        api: MatrixApi,
        *,
        grace: float,
        registry: CollectorRegistry | None,
        store_path: Path | None = None,
    ):
        self.store_path = store_path
        self.store: HeldStore | None = None  # set when a database is available
        self.client = client
        self.api = api
        self.grace = grace
        self.held: dict[str, Held] = {}
        registry = registry if registry is not None else CollectorRegistry()
        self.withheld: dict[str, str] = {}  # session id -> withheld code
        self._done: dict[str, None] = {}  # ids decrypted or given up (bounded, ordered)
        self.recent: list[tuple[float, str]] = []  # (wall time, reason), last 24 h
        self.counter = Counter(
            "helpdesk_undecryptable_total",
            "Messages the bot could not decrypt before the grace period ended, by reason",
            ["reason"],
            registry=registry,
        )
        self.late = Counter(
            "helpdesk_undecryptable_recovered_total",
            "Messages decrypted after their key arrived late",
            registry=registry,
        )
        # Set by the sync loop: route a decrypted event; give an event up (claim + notice).
        self.deliver: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
        self.give_up: Callable[[str, str, str | None], Awaitable[None]] | None = None
        # Tried before giving up (the server-side key backup), when configured.
        self.fetch_key: Callable[[str, str], Awaitable[bool]] | None = None

    async def hold(self, room_id: str, event: dict[str, Any], *, direct: bool) -> None:
        """Keep ``event`` until its key arrives or the grace period ends; ask for the key."""
        event_id = str(event.get("event_id"))
        if event_id in self.held or event_id in self._done:
            return  # a replayed sync (the token advances after handling) shows it again
        if len(self.held) >= MAX_HELD:
            oldest = min(self.held, key=lambda k: self.held[k].since)
            self._finish(oldest)
            await self._give_up(oldest, self.held.pop(oldest))
        self.held[event_id] = Held(room_id, event, direct)
        await self._persist()
        log.info(
            "holding %s from %s in %s until its key arrives", event_id, event.get("sender"), room_id
        )
        await self._request_key(room_id, event)

    def on_to_device(self, events: list[Any]) -> None:
        """Remember withheld codes from a sync's to-device events."""
        for event in events:
            source = getattr(event, "source", None) or {}
            if source.get("type") not in WITHHELD_TYPES:
                continue
            content = source.get("content") or {}
            session_id, code = content.get("session_id"), content.get("code")
            if isinstance(session_id, str) and isinstance(code, str):
                self.withheld[session_id] = code
                log.info("room key withheld by %s: %s", source.get("sender"), code)

    async def restore(self) -> None:
        """Take back the events held before a restart."""
        if self.store is None:
            return
        try:
            items = await self.store.load()
        except Exception as exc:  # the database is down: nothing to take back
            log.warning("cannot load held events: %s", type(exc).__name__)
            return
        for item in items:
            try:
                source, room_id = item["source"], str(item["room_id"])
                since = wall_to_monotonic(float(item["since"]))
            except (KeyError, TypeError, ValueError):
                continue
            event_id = str(source.get("event_id"))
            self.held.setdefault(event_id, Held(room_id, source, bool(item.get("direct")), since))
        if self.held:
            log.info("still waiting for the keys of %d messages", len(self.held))

    async def _persist(self) -> None:
        if self.store is None:
            return
        offset = time.time() - time.monotonic()
        items = [
            {
                "room_id": h.room_id,
                "source": h.source,
                "direct": h.direct,
                "since": h.since + offset,
            }
            for h in self.held.values()
        ]
        try:
            await self.store.save(items)
        except Exception as exc:  # the database is down: kept in memory meanwhile
            log.warning("cannot save held events: %s", type(exc).__name__)

    async def retry(self) -> None:
        """Try every held event again; give up those past the grace period."""
        now = time.monotonic()
        before = len(self.held)
        for event_id, held in list(self.held.items()):
            decrypted = self._decrypt(held)
            if decrypted is None and self.fetch_key is not None and not held.backup_tried:
                held.backup_tried = True
                session_id = str((held.source.get("content") or {}).get("session_id", ""))
                if await self.fetch_key(held.room_id, session_id):
                    decrypted = self._decrypt(held)
            if decrypted is not None:
                del self.held[event_id]
                self._finish(event_id)
                self.late.inc()
                log.info("decrypted %s after its key arrived", event_id)
                if self.deliver is not None:
                    await self.deliver(held.room_id, decrypted)
            elif now - held.since >= self.grace:
                del self.held[event_id]
                self._finish(event_id)
                await self._give_up(event_id, held)
        if len(self.held) != before:
            await self._persist()

    def _finish(self, event_id: str) -> None:
        self._done[event_id] = None
        while len(self._done) > 10 * MAX_HELD:
            del self._done[next(iter(self._done))]

    def counts(self) -> dict[str, int]:
        """Events given up over the last 24 hours, by reason."""
        cutoff = time.time() - DAY
        self.recent = [(t, r) for t, r in self.recent if t >= cutoff]
        result: dict[str, int] = {}
        for _, reason in self.recent:
            result[reason] = result.get(reason, 0) + 1
        return result

    def _reason(self, held: Held) -> str:
        session_id = (held.source.get("content") or {}).get("session_id")
        code = self.withheld.get(session_id) if isinstance(session_id, str) else None
        if code is None:
            return NO_KEY
        return code if code in KNOWN_CODES else "other"

    async def _give_up(self, event_id: str, held: Held) -> None:
        reason = self._reason(held)
        self.counter.labels(reason).inc()
        self.recent.append((time.time(), reason))
        if self.store_path is not None:
            save_counts(self.store_path, self.recent)  # for `helpdesk-bot crypto status`
        log.warning(
            "could not decrypt %s from %s in %s (%s); giving up",
            event_id,
            held.source.get("sender"),
            held.room_id,
            reason,
        )
        if self.give_up is not None:
            text = notice_text(reason) if held.direct else None
            await self.give_up(event_id, held.room_id, text)

    def _decrypt(self, held: Held) -> dict[str, Any] | None:
        return self.decrypt(held.room_id, held.source)

    def decrypt(self, room_id: str, source: dict[str, Any]) -> dict[str, Any] | None:
        """The decrypted (guarded) source of an encrypted event, or None without its key."""
        event = Event.parse_event({**source, "room_id": room_id})
        if not isinstance(event, MegolmEvent) or self.client.olm is None:
            return None
        event.room_id = room_id
        try:
            decrypted = self.client.decrypt_event(event)
        except (EncryptionError, LocalProtocolError):
            return None
        if isinstance(decrypted, MegolmEvent) or not hasattr(decrypted, "source"):
            return None
        return decrypted.source

    async def _request_key(self, room_id: str, source: dict[str, Any]) -> None:
        """``m.room_key_request`` to the sender's devices and to the bot's own."""
        content = source.get("content") or {}
        sender = source.get("sender")
        if not isinstance(sender, str) or content.get("algorithm") != "m.megolm.v1.aes-sha2":
            return
        request = {
            "action": "request",
            "body": {
                "algorithm": content.get("algorithm"),
                "room_id": room_id,
                "sender_key": content.get("sender_key"),
                "session_id": content.get("session_id"),
            },
            "request_id": uuid.uuid4().hex,
            "requesting_device_id": self.client.device_id,
        }
        targets = {sender: {"*": request}}
        if sender != self.client.user_id:
            targets[str(self.client.user_id)] = {"*": request}
        try:
            await self.api.request(
                "PUT",
                f"/sendToDevice/m.room_key_request/{uuid.uuid4().hex}",
                {"messages": targets},
            )
        except Exception as exc:  # a failed request only delays the notice
            log.warning("room key request for %s failed: %s", source.get("event_id"), exc)
