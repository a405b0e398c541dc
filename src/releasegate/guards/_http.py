"""A shared base for guards that call an HTTP service: one `httpx.AsyncClient` per event loop,
and every failure (timeout, refused connection, non-2xx, unparsable body) turned into
`GuardError` so the pipeline fails closed."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

from releasegate.guards._base import GuardError


class HTTPGuardBase:
    """Posts JSON to `base_url` + path; subclasses parse the answer.

    Args:
        base_url: e.g. `http://127.0.0.1:8000/v1`.
        api_key: sent as `Authorization: Bearer ...` when set.
        timeout_s: total timeout of one call.
        name: the guard's name.
    """

    def __init__(self, base_url: str, *, api_key: str | None, timeout_s: float, name: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout_s)
        self._name = name
        # An AsyncClient's connections belong to the loop that opened them.
        self._clients: dict[int, httpx.AsyncClient] = {}

    @property
    def name(self) -> str:
        return self._name

    def _client(self) -> httpx.AsyncClient:
        loop = id(asyncio.get_running_loop())
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)
            self._clients[loop] = client
        return client

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = await self._client().post(url, json=payload)
        except httpx.TimeoutException as exc:
            raise GuardError(f"{self._name}: {url} timed out") from exc
        except httpx.HTTPError as exc:
            raise GuardError(f"{self._name}: {url} unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise GuardError(f"{self._name}: {url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise GuardError(f"{self._name}: {url} answered with invalid JSON") from exc

    async def aclose(self) -> None:
        """Close the HTTP clients (of the current loop; others are dropped)."""
        clients, self._clients = self._clients, {}
        for client in clients.values():
            with contextlib.suppress(RuntimeError):  # opened on a loop that is closed now
                await client.aclose()
