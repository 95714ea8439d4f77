"""The few client-server endpoints nio does not wrap (cross-signing, secrets, backup)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

PREFIX = "/_matrix/client/v3"


class ApiError(Exception):
    """The homeserver answered with an error (``status`` and Matrix ``errcode``)."""

    def __init__(self, status: int, body: dict[str, Any]):
        self.status = status
        self.body = body
        self.errcode = str(body.get("errcode", ""))
        super().__init__(f"{status} {self.errcode} {body.get('error', '')}".strip())


class MatrixApi:
    """Authenticated JSON requests with the bot's access token (read at each call)."""

    def __init__(self, homeserver: str, token: Any, timeout: float = 60.0):
        self.homeserver = homeserver.rstrip("/")
        self._token = token  # a callable returning the current access token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One request; returns the JSON answer.

        Raises:
            ApiError: a non-2xx answer (401 answers keep their body for UIA).
        """
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = {"Authorization": f"Bearer {self._token()}"}
        async with self._session.request(
            method, f"{self.homeserver}{PREFIX}{path}", json=body, headers=headers
        ) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = {}
            if not isinstance(data, dict):
                data = {}
            if response.status >= 300:
                raise ApiError(response.status, data)
            return data

    async def query_keys(self, user_ids: list[str]) -> dict[str, Any]:
        """``/keys/query`` for the given users (all their devices)."""
        return await self.request("POST", "/keys/query", {"device_keys": {u: [] for u in user_ids}})

    async def get_account_data(self, user_id: str, kind: str) -> dict[str, Any] | None:
        """The user's global account data of type ``kind``, or None when unset."""
        try:
            return await self.request(
                "GET", f"/user/{quote(user_id, safe='')}/account_data/{quote(kind, safe='')}"
            )
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def put_account_data(self, user_id: str, kind: str, content: dict[str, Any]) -> None:
        """Set the user's global account data of type ``kind``."""
        await self.request(
            "PUT", f"/user/{quote(user_id, safe='')}/account_data/{quote(kind, safe='')}", content
        )

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None
