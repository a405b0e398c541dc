"""The CLI as a client of a running gateway (`access`, `principals`): the same routes, the same
role checks and the same audit records as any other client, so the CLI decides nothing alone."""

from __future__ import annotations

from typing import Any

import httpx

from releasegate._cli._store import fail
from releasegate.settings import Settings


class Gateway:
    """Calls to `settings.gateway_url`, with a bearer credential when one is given."""

    def __init__(self, url: str | None = None, token: str | None = None) -> None:
        settings = Settings()
        self.url = (url or settings.gateway_url).rstrip("/")
        if token is None and settings.principal_token is not None:
            token = settings.principal_token.get_secret_value()
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        bearer: str | None = None,
    ) -> Any:
        """The JSON answer; an error answer or an unreachable gateway ends the command (exit 2
        for a refusal, 1 for a gateway that cannot be reached)."""
        credential = bearer or self.token
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        try:
            with httpx.Client(base_url=self.url, timeout=30) as client:
                response = client.request(method, path, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the gateway at {self.url}: {exc}", code=1)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                where = f" ({error['param']})" if error.get("param") else ""
                message = f"{response.status_code} {error.get('code') or ''}{where}: "
                message += str(error.get("message"))
            except (ValueError, KeyError, TypeError):
                message = f"{response.status_code}: {response.text[:500]}"
            fail(message)
        return response.json()

    def need_token(self) -> None:
        if not self.token:
            fail(
                "no principal token: set RELEASEGATE_PRINCIPAL_TOKEN (or pass --token); "
                "`releasegate principals bootstrap` makes the first admin's"
            )
