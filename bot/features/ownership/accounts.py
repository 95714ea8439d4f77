"""Is an owner's Matrix account deactivated? Asked of the homeserver's admin API.

What a bot can learn, and how (Synapse):

* Without admin rights, nothing reliable. The profile API answers 200 for a deactivated
  (not erased) account; inviting one succeeds (the invite just never gets accepted); the
  user directory drops deactivated accounts, but it also leaves out every active account
  that shares no room with the bot, so an absence proves nothing.
* With a server admin's access token, ``GET /_synapse/admin/v2/users/<user id>`` answers
  ``deactivated: true|false`` for accounts on that homeserver. The token is
  ``ownership.admin_token``, else ``matrix.access_token`` (when the bot logs in with a
  token and its account is a server admin). A token that is not an admin's (403) turns
  the check off until restart, with one warning.

Results are cached for ``ownership.account_check_every``; owners on other homeservers are
never asked (the admin API knows local accounts only). A failed or slow request leaves
the owner as "unknown" (not deactivated): an answer is never held up or made stale by a
homeserver hiccup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

ADMIN_USER_PATH = "/_synapse/admin/v2/users/"
REQUEST_TIMEOUT = 3.0  # seconds, per request
CONCURRENCY = 4


class AccountChecker:
    """Asks the admin API whether accounts are deactivated; caches the answers."""

    def __init__(
        self,
        homeserver: str,
        token: str,
        server_name: str,
        ttl_seconds: float,
        *,
        token_name: str = "ownership.admin_token",
    ):
        self.homeserver = homeserver.rstrip("/")
        self.token_name = token_name
        self._token = token
        self.server_name = server_name
        self.ttl = ttl_seconds
        self.enabled = True
        self._known: dict[str, tuple[float, bool]] = {}  # user id -> (checked at, deactivated)

    def forget(self) -> None:
        """Drop the cached answers (the next check asks the homeserver again)."""
        self._known.clear()

    def is_local(self, user_id: str) -> bool:
        return user_id.partition(":")[2] == self.server_name

    def due(self, user_ids: Iterable[str]) -> list[str]:
        """The local accounts whose cached answer is missing or older than the TTL."""
        now = time.monotonic()
        return [
            u
            for u in dict.fromkeys(user_ids)
            if self.is_local(u) and (u not in self._known or now - self._known[u][0] > self.ttl)
        ]

    async def check(self, user_ids: Iterable[str]) -> dict[str, bool]:
        """``{user id: deactivated}`` for the accounts asked now (the due ones only)."""
        due = self.due(user_ids)
        if not due or not self.enabled:
            return {}
        found: dict[str, bool] = {}
        limit = asyncio.Semaphore(CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        headers = {"Authorization": f"Bearer {self._token}"}
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as http:

            async def one(user_id: str) -> None:
                async with limit:
                    answer = await self._ask(http, user_id)
                if answer is not None:
                    found[user_id] = answer
                    self._known[user_id] = (time.monotonic(), answer)

            await asyncio.gather(*(one(u) for u in due))
        return found

    async def _ask(self, http: aiohttp.ClientSession, user_id: str) -> bool | None:
        if not self.enabled:
            return None
        url = f"{self.homeserver}{ADMIN_USER_PATH}{quote(user_id, safe='')}"
        try:
            async with http.get(url) as response:
                if response.status == 200:
                    body = await response.json()
                    return bool(body.get("deactivated"))
                if response.status in (401, 403):
                    self.enabled = False
                    # The bot's own token not being an admin's is a normal set-up.
                    level = logging.WARNING if "admin" in self.token_name else logging.INFO
                    log.log(
                        level,
                        "ownership: %s may not use the admin API (HTTP %d): deactivated "
                        "owner accounts are not detected (see docs/ownership.md)",
                        self.token_name,
                        response.status,
                    )
                return None  # 404 (no such account) and anything else: unknown
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.info("ownership: account check failed (%s)", type(exc).__name__)
            return None
