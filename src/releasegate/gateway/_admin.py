"""Admin API (admin token): create, list, revoke, rotate and suspend keys.

Each action goes through the same pipeline as model requests (authenticate with the admin token,
rate limit, audit), and its record names the action and the key, never a plaintext key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from releasegate.access._keys import (
    KeyLimitsError,
    KeyNotFoundError,
    KeyRecord,
    KeyStore,
)
from releasegate.access._tiers import TierSpec
from releasegate.backends._base import ChatMessage
from releasegate.gateway._errors import ApiError, bad_request
from releasegate.gateway._keys import KeyCache
from releasegate.gateway._pipeline import Call, Principal, Unary


def key_json(record: KeyRecord) -> dict[str, Any]:
    """A key's record as the admin API returns it (never the key itself)."""
    return {
        "id": record.id,
        "prefix": record.prefix,
        "tier": record.tier,
        "owner": record.owner,
        "status": record.status(),
        "created_at": record.created_at.isoformat(),
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "suspended_reason": record.suspended_reason,
        "rotated_from": record.rotated_from,
        "limits": {
            "rpm": record.limits.rpm,
            "tpm": record.limits.tpm,
            "daily_tokens": record.limits.daily_tokens,
        },
    }


class AdminRoute:
    """One admin action. `action(data) -> (response body, audit details)` runs in a thread."""

    admin = True

    def __init__(
        self,
        name: str,
        action: Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]],
        *,
        needs_body: bool,
    ) -> None:
        self.name = name
        self._action = action
        self.needs_body = needs_body

    def parse(self, data: dict[str, Any], principal: Principal) -> dict[str, Any]:
        return data

    def authorize(self, principal: Principal, parsed: dict[str, Any]) -> None:
        if not principal.admin:  # unreachable: admin routes authenticate the admin token
            raise ApiError(403, "admin only", type="permission_error")

    def reserve_tokens(self, parsed: dict[str, Any]) -> int:
        return 0

    def input_messages(self, parsed: dict[str, Any]) -> Sequence[ChatMessage]:
        return ()

    async def execute(self, call: Call) -> Unary:
        try:
            body, details = await asyncio.to_thread(self._action, call.parsed)
        except KeyNotFoundError as exc:
            raise ApiError(404, str(exc), code="key_not_found") from exc
        except KeyLimitsError as exc:
            raise bad_request(str(exc), param="limits", code="invalid_limits") from exc
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        call.audit["action"] = self.name
        call.audit.update(details)
        return Unary(outputs=[], render=lambda _v: body)


class AdminActions:
    """The key actions, bound to one store and the tiers offered."""

    def __init__(
        self, store: KeyStore, tiers: dict[str, TierSpec], cache: KeyCache[KeyRecord]
    ) -> None:
        self.store = store
        self.tiers = tiers
        self.cache = cache

    def create(self, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        tier_name = data.get("tier")
        if not isinstance(tier_name, str) or tier_name not in self.tiers:
            raise ApiError(
                400,
                f"tier: must be one of {', '.join(sorted(self.tiers))}; got {tier_name!r}",
                param="tier",
                code="invalid_value",
            )
        owner = data.get("owner")
        if not isinstance(owner, str):
            raise bad_request("owner: required, a string", param="owner")
        expires = data.get("expires_at")
        expires_at = None
        if expires is not None:
            if not isinstance(expires, str):
                raise bad_request(
                    "expires_at: an ISO 8601 time with a timezone", param="expires_at"
                )
            try:
                expires_at = datetime.fromisoformat(expires)
            except ValueError:
                raise bad_request(
                    f"expires_at: not an ISO 8601 time: {expires!r}", param="expires_at"
                ) from None
        limits = data.get("limits")
        if limits is not None and not isinstance(limits, dict):
            raise bad_request("limits: an object with rpm, tpm, daily_tokens", param="limits")
        created = self.store.create(self.tiers[tier_name], owner, expires_at, limits)
        body = {"key": created.plaintext, **key_json(created.record)}
        return body, {"key_id": created.record.id, "tier": tier_name, "owner": owner}

    def list(self, data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        records = self.store.list()
        return {"object": "list", "data": [key_json(r) for r in records]}, {"count": len(records)}

    def revoke(self, key_id: str) -> Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]]:
        def run(_data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
            record = self.store.revoke(key_id)
            self.cache.invalidate()  # this process refuses at once; others within the TTL
            return key_json(record), {"key_id": key_id}

        return run

    def rotate(self, key_id: str) -> Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]]:
        def run(_data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
            created = self.store.rotate(key_id)
            self.cache.invalidate()
            body = {"key": created.plaintext, **key_json(created.record)}
            return body, {"key_id": created.record.id, "rotated_from": key_id}

        return run

    def suspend(self, key_id: str) -> Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]]:
        def run(data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
            reason = data.get("reason", "suspended by an admin")
            if not isinstance(reason, str):
                raise bad_request("reason: a string", param="reason")
            record = self.store.suspend(key_id, reason)
            self.cache.invalidate()
            return key_json(record), {"key_id": key_id, "reason": reason}

        return run


__all__ = ["AdminActions", "AdminRoute", "key_json"]
