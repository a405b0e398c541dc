"""Misuse monitoring and Prometheus metrics in the gateway: the pipeline observer that feeds
both (the `/metrics` and incidents routes are rows of the route table).

The observer runs once per finished request, after its audit record is committed (so a
flagged request is counted under the seq of its own record). If a flagged request cannot be
counted (Redis down) or its crossing cannot be recorded, the observer refuses it with 503
`monitoring_unavailable`, like every other safeguard that is unavailable: the request was
already refused or withheld by the guard; what fails closed is the promise that the key is
being watched. Its audit record keeps the guard's flag.
"""

from __future__ import annotations

import logging
import time

from sqlalchemy.orm import Session, sessionmaker

from releasegate.access._keys import KeyRecord
from releasegate.audit._sink import AuditSink
from releasegate.gateway._call import Call
from releasegate.gateway._errors import ApiError, unavailable
from releasegate.gateway._keys import KeyCache
from releasegate.monitoring import (
    GatewayMetrics,
    IncidentStore,
    MisuseMonitor,
    MonitorUnavailable,
    make_counter,
)

log = logging.getLogger("releasegate.gateway")


class MonitorObserver:
    """Pipeline observer: metrics for every request; flagged ones counted per key."""

    def __init__(self, monitor: MisuseMonitor, metrics: GatewayMetrics) -> None:
        self.monitor = monitor
        self.metrics = metrics

    async def __call__(self, call: Call) -> None:
        principal = call.principal
        tier = principal.tier if principal is not None else None
        staff = principal is not None and not principal.anonymous
        tier_name = tier.name if tier is not None else ("admin" if staff else "none")
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
                log.warning("misuse monitoring unavailable: %s", exc)
                failure = unavailable(
                    "misuse monitoring unavailable; refusing rather than serving unmonitored",
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
    redis_url: str | None,
    sessions: sessionmaker[Session],
    audit: AuditSink,
    cache: KeyCache[KeyRecord],
) -> tuple[MisuseMonitor, GatewayMetrics, MonitorObserver]:
    """Build the monitor (counters in Redis when `redis_url` is set), the app's metrics
    registry and the observer that feeds both."""
    monitor = MisuseMonitor(
        make_counter(redis_url),
        IncidentStore(sessions),
        audit=audit,
        on_suspend=lambda _key_id: cache.invalidate(),
    )
    metrics = GatewayMetrics()
    return monitor, metrics, MonitorObserver(monitor, metrics)


__all__ = ["MonitorObserver", "start_monitoring"]
