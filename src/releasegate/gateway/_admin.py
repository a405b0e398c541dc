"""Admin routes' handlers (principals with roles, or the bootstrap admin token): keys and
incidents.

Each action goes through the same pipeline as model requests (authenticate with the admin token,
rate limit, audit); its record names the action and the key or incident, never a plaintext key.
An action returns its response body and the details its audit record carries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from pydantic import BaseModel

from releasegate.access._keys import KeyLimitsError, KeyNotFoundError, KeyRecord
from releasegate.gateway._admin_models import (
    CreateKeyRequest,
    IncidentQuery,
    ResolveIncidentRequest,
    SuspendKeyRequest,
)
from releasegate.gateway._call import Call, NoInput, Principal, Unary
from releasegate.gateway._errors import ApiError, bad_request
from releasegate.gateway._state import Gateway
from releasegate.monitoring import IncidentNotFoundError

Outcome = tuple[object, dict[str, object]]  # (response body, audit details)
Action = Callable[[Call], Awaitable[Outcome]]


def key_json(record: KeyRecord) -> dict[str, object]:
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


class AdminRoute(NoInput):
    """One admin action; its errors become 404 (unknown key or incident) or 400."""

    def __init__(self, action: Action) -> None:
        self._action = action

    def parse(self, body: BaseModel | None, call: Call) -> BaseModel | None:
        return body

    def authorize(self, principal: Principal, parsed: object) -> None:
        if not principal.roles:  # unreachable: the pipeline checked the row's roles
            raise ApiError(403, "staff only", type="permission_error")

    async def execute(self, call: Call) -> Unary:
        try:
            body, details = await self._action(call)
        except KeyNotFoundError as exc:
            raise ApiError(404, str(exc), code="key_not_found") from exc
        except IncidentNotFoundError as exc:
            raise ApiError(404, str(exc), code="incident_not_found") from exc
        except KeyLimitsError as exc:
            raise bad_request(str(exc), param="limits", code="invalid_limits") from exc
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        call.audit_extra["action"] = call.route
        call.audit_extra.update(details)
        return Unary(outputs=[], render=lambda _v: body)


# -- keys --------------------------------------------------------------------------------------


def create_key_route(g: Gateway) -> AdminRoute:
    """The handler of `POST /admin/keys`."""

    def create(req: CreateKeyRequest) -> Outcome:
        tier = g.tiers.get(req.tier)
        if tier is None:
            raise ApiError(
                400,
                f"tier: must be one of {', '.join(sorted(g.tiers))}; got {req.tier!r}",
                param="tier",
                code="invalid_value",
            )
        limits = req.limits.model_dump() if req.limits is not None else None
        created = g.keys.create(tier, req.owner, req.expires_at, limits)
        body = {"key": created.plaintext, **key_json(created.record)}
        return body, {"key_id": created.record.id, "tier": req.tier, "owner": req.owner}

    async def run(call: Call) -> Outcome:
        assert isinstance(call.parsed, CreateKeyRequest)
        return await asyncio.to_thread(create, call.parsed)

    return AdminRoute(run)


def list_keys_route(g: Gateway) -> AdminRoute:
    """The handler of `GET /admin/keys`."""

    async def run(call: Call) -> Outcome:
        records = await asyncio.to_thread(g.keys.list)
        return {"object": "list", "data": [key_json(r) for r in records]}, {"count": len(records)}

    return AdminRoute(run)


def revoke_key_route(g: Gateway) -> AdminRoute:
    """The handler of `POST /admin/keys/{key_id}/revoke`."""

    async def run(call: Call) -> Outcome:
        key_id = call.path_params["key_id"]
        record = await asyncio.to_thread(g.keys.revoke, key_id)
        g.key_cache.invalidate()  # this process refuses at once; others within the TTL
        return key_json(record), {"key_id": key_id}

    return AdminRoute(run)


def rotate_key_route(g: Gateway) -> AdminRoute:
    """The handler of `POST /admin/keys/{key_id}/rotate`."""

    async def run(call: Call) -> Outcome:
        key_id = call.path_params["key_id"]
        created = await asyncio.to_thread(g.keys.rotate, key_id)
        g.key_cache.invalidate()
        body = {"key": created.plaintext, **key_json(created.record)}
        return body, {"key_id": created.record.id, "rotated_from": key_id}

    return AdminRoute(run)


def suspend_key_route(g: Gateway) -> AdminRoute:
    """The handler of `POST /admin/keys/{key_id}/suspend`."""

    async def run(call: Call) -> Outcome:
        assert isinstance(call.parsed, SuspendKeyRequest)
        key_id, reason = call.path_params["key_id"], call.parsed.reason
        record = await asyncio.to_thread(g.keys.suspend, key_id, reason)
        g.key_cache.invalidate()
        return key_json(record), {"key_id": key_id, "reason": reason}

    return AdminRoute(run)


# -- incidents and metrics ---------------------------------------------------------------------


def list_incidents_route(g: Gateway) -> AdminRoute:
    """The handler of `GET /admin/incidents`."""

    async def run(call: Call) -> Outcome:
        query = call.parsed
        assert isinstance(query, IncidentQuery)
        found = await asyncio.to_thread(g.monitor.incidents.list, query.status, query.key_id)
        body = {"object": "list", "data": [i.to_json() for i in found]}
        return body, {"count": len(found)}

    return AdminRoute(run)


def show_incident_route(g: Gateway) -> AdminRoute:
    """The handler of `GET /admin/incidents/{incident_id}`."""

    async def run(call: Call) -> Outcome:
        incident_id = call.path_params["incident_id"]
        incident = await asyncio.to_thread(g.monitor.incidents.get, incident_id)
        return incident.to_json(), {"incident_id": incident_id}

    return AdminRoute(run)


def resolve_incident_route(g: Gateway) -> AdminRoute:
    """The handler of `POST /admin/incidents/{incident_id}/resolve`."""

    async def run(call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, ResolveIncidentRequest)
        incident_id = call.path_params["incident_id"]
        # A person resolves in their own name; only the nameless admin token says who it is.
        person = call.principal.person if call.principal is not None else None
        by = person.name if person is not None else req.by
        incident = await g.monitor.resolve(incident_id, by, req.note, unsuspend=req.unsuspend)
        details: dict[str, object] = {
            "incident_id": incident_id,
            "key_id": incident.key_id,
            "resolved_by": by,
            "unsuspended": req.unsuspend,
        }
        return incident.to_json(), details

    return AdminRoute(run)


def metrics_route(g: Gateway) -> AdminRoute:
    """The handler of `GET /metrics` (Prometheus text format)."""
    from starlette.responses import Response

    async def run(call: Call) -> Outcome:
        return Response(g.metrics.render(), media_type=g.metrics.content_type), {}

    return AdminRoute(run)


__all__ = [
    "AdminRoute",
    "create_key_route",
    "key_json",
    "list_incidents_route",
    "list_keys_route",
    "metrics_route",
    "resolve_incident_route",
    "revoke_key_route",
    "rotate_key_route",
    "show_incident_route",
    "suspend_key_route",
]
