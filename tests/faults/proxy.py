"""A controllable HTTP proxy in front of the real Synapse: inject 5xx, 4xx and 429s.

Rules match a request (method and path regex) and answer instead of the homeserver,
for a number of requests or until a deadline; everything else is forwarded. Every
request is recorded (method, path, status, time), so a test can tell what was tried.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from bot.dev.devserver import free_port

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass
class Rule:
    """Answer ``status`` with ``body`` to requests matching ``method`` and ``path``."""

    method: str
    path: str  # a regex searched in the request path
    status: int
    body: dict[str, Any]
    times: int | None = None  # how many requests (None: until ``until``)
    until: float | None = None  # time.monotonic() deadline (None: ``times`` only)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if method != self.method or not re.search(self.path, path):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return not (self.until is not None and time.monotonic() > self.until)


@dataclass
class Seen:
    method: str
    path: str
    status: int
    at: float


@dataclass
class FaultProxy:
    """Forwards 127.0.0.1:<port> to ``target`` (a homeserver URL), applying ``rules``."""

    target: str
    port: int = field(default_factory=free_port)
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application(client_max_size=2**24)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()
        await self._http.close()

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def sends_to(self, room_id: str) -> list[Seen]:
        """Send requests for ``room_id`` (room ids are URL-quoted in paths)."""
        quoted = room_id.replace("!", "%21").replace(":", "%3A")
        return [
            s for s in self.seen if "/send/" in s.path and (quoted in s.path or room_id in s.path)
        ]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.raw_path
        for rule in self.rules:
            if rule.matches(request.method, path):
                rule.hits += 1
                self.seen.append(Seen(request.method, path, rule.status, time.monotonic()))
                await request.read()
                return web.json_response(rule.body, status=rule.status)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with self._http.request(
            request.method, self.target + path, data=body or None, headers=headers
        ) as upstream:
            payload = await upstream.read()
            self.seen.append(Seen(request.method, path, upstream.status, time.monotonic()))
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
            return web.Response(body=payload, status=upstream.status, headers=out)
