"""Misuse monitoring and Prometheus metrics in the gateway: the pipeline observer, `/metrics`
and the incidents admin API.

The observer runs once per finished request, after its audit record is committed (so a
flagged request is counted under the seq of its own record). If a flagged request cannot be
counted (Redis down) or its crossing cannot be recorded, the observer refuses it with 503
`monitoring_unavailable`, like every other safeguard that is unavailable: the request was
already refused or withheld by the guard; what fails closed is the promise that the key is
being watched. Its audit record keeps the guard's flag.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from releasegate.gateway._admin import AdminRoute
from releasegate.gateway._errors import ApiError, bad_request, unavailable
from releasegate.gateway._keys import KeyCache
from releasegate.gateway._pipeline import Call, Unary
from releasegate.monitoring import (
    GatewayMetrics,
    IncidentNotFoundError,
    IncidentStore,
    MisuseMonitor,
    MonitorUnavailable,
    make_counter,
)
from releasegate.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from releasegate.gateway._app import Gateway


class MonitorObserver:
    """Pipeline observer: metrics for every request; flagged ones counted per key."""

    def __init__(self, monitor: MisuseMonitor, metrics: GatewayMetrics) -> None:
        self.monitor = monitor
        self.metrics = metrics

    async def __call__(self, call: Call) -> None:
        principal = call.principal
        tier = principal.tier if principal is not None else None
        tier_name = tier.name if tier is not None else ("admin" if principal else "none")
        failure: ApiError | None = None
        categories: set[str] = set()
        flagged = False
        if call.input_verdict is not None and call.input_verdict.flagged:
            flagged = True
            cats = [c.value for c in call.input_verdict.categories]
            categories.update(cats)
            self.metrics.observe_flags("input", cats)
        for verdict in call.output_verdicts:
            if verdict.flagged:
                flagged = True
                cats = [c.value for c in verdict.categories]
                categories.update(cats)
                self.metrics.observe_flags("output", cats)
        if flagged and principal is not None and tier is not None and call.audit_seqs:
            try:
                incident = await self.monitor.record_flag(
                    key_id=principal.id, tier=tier, seq=call.audit_seqs[-1], categories=categories
                )
            except MonitorUnavailable as exc:
                self.metrics.monitor_failures.inc()
                failure = unavailable(
                    f"misuse monitoring unavailable ({exc}); refusing rather than serving "
                    "unmonitored",
                    code="monitoring_unavailable",
                )
                call.status = failure.status
                call.error_code = failure.code
            else:
                if incident is not None:
                    self.metrics.suspensions.labels(tier.name).inc()
        self.metrics.observe_request(
            call.route,
            call.status,
            tier_name,
            time.perf_counter() - call.started,
            call.error_code,
        )
        if failure is not None:
            raise failure

    def anonymous(self, call: Call) -> None:
        """Count a request refused before authentication (no key, a bad key, 413)."""
        self.metrics.observe_request(
            call.route, call.status, "none", time.perf_counter() - call.started, call.error_code
        )


def start_monitoring(
    settings: Settings,
    sessions: sessionmaker[Session],
    audit_append: Callable[..., Awaitable[Any]],
    cache: KeyCache[Any],
) -> tuple[MisuseMonitor, GatewayMetrics, MonitorObserver]:
    """Build the monitor (counters in Redis when `redis_url` is set), the app's metrics
    registry and the observer that feeds both."""
    monitor = MisuseMonitor(
        make_counter(settings.redis_url),
        IncidentStore(sessions),
        audit_append=audit_append,
        on_suspend=lambda _key_id: cache.invalidate(),
    )
    metrics = GatewayMetrics()
    return monitor, metrics, MonitorObserver(monitor, metrics)


class _AsyncAdminRoute(AdminRoute):
    """An admin action that awaits (resolving resets the Redis counters)."""

    def __init__(
        self,
        name: str,
        action: Callable[[dict[str, Any]], Awaitable[tuple[Any, dict[str, Any]]]],
        *,
        needs_body: bool,
    ) -> None:
        super().__init__(name, lambda _d: ({}, {}), needs_body=needs_body)
        self._async_action = action

    async def execute(self, call: Call) -> Unary:
        try:
            body, details = await self._async_action(call.parsed)
        except IncidentNotFoundError as exc:
            raise ApiError(404, str(exc), code="incident_not_found") from exc
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        call.audit["action"] = self.name
        call.audit.update(details)
        return Unary(outputs=[], render=lambda _v: body)


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def _metrics(request: Request) -> Response:
    g = _gateway(request)
    metrics: GatewayMetrics = g.metrics

    async def scrape(_data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return Response(metrics.render(), media_type=metrics.content_type), {}

    return await g.pipeline.run(request, _AsyncAdminRoute("metrics", scrape, needs_body=False))


async def _list_incidents(request: Request) -> Response:
    g = _gateway(request)
    status = request.query_params.get("status")
    key_id = request.query_params.get("key_id")

    async def run(_data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        if status not in (None, "open", "resolved"):
            raise ValueError(f"status: 'open' or 'resolved', not {status!r}")
        found = await asyncio.to_thread(
            g.monitor.incidents.list,
            status,
            key_id,
        )
        body = {"object": "list", "data": [i.to_json() for i in found]}
        return body, {"count": len(found)}

    return await g.pipeline.run(request, _AsyncAdminRoute("incidents.list", run, needs_body=False))


async def _show_incident(request: Request) -> Response:
    g = _gateway(request)
    incident_id = request.path_params["incident_id"]

    async def run(_data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        incident = await asyncio.to_thread(g.monitor.incidents.get, incident_id)
        return incident.to_json(), {"incident_id": incident_id}

    return await g.pipeline.run(request, _AsyncAdminRoute("incidents.show", run, needs_body=False))


async def _resolve_incident(request: Request) -> Response:
    g = _gateway(request)
    incident_id = request.path_params["incident_id"]

    async def run(data: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        by, note, unsuspend = data.get("by"), data.get("note"), data.get("unsuspend", False)
        if not isinstance(by, str):
            raise ValueError("by: required, the name of who resolves the incident")
        if note is not None and not isinstance(note, str):
            raise ValueError("note: a string")
        if not isinstance(unsuspend, bool):
            raise ValueError("unsuspend: true or false")
        incident = await g.monitor.resolve(incident_id, by, note, unsuspend=unsuspend)
        details = {
            "incident_id": incident_id,
            "key_id": incident.key_id,
            "resolved_by": by,
            "unsuspended": unsuspend,
        }
        return incident.to_json(), details

    return await g.pipeline.run(
        request, _AsyncAdminRoute("incidents.resolve", run, needs_body=True)
    )


def monitoring_routes() -> list[Route]:
    """`GET /metrics` and the incidents admin API, all through the pipeline (admin token)."""
    return [
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/admin/incidents", _list_incidents, methods=["GET"]),
        Route("/admin/incidents/{incident_id}", _show_incident, methods=["GET"]),
        Route("/admin/incidents/{incident_id}/resolve", _resolve_incident, methods=["POST"]),
    ]


__all__ = ["MonitorObserver", "monitoring_routes", "start_monitoring"]
