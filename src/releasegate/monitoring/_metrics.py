"""Prometheus metrics of one gateway app, in the app's own registry.

No global registry: each app (and each test) builds its own `GatewayMetrics`, so several apps
in one process never share or clash over counters. Recording is a few dictionary lookups and
locked additions (prometheus-client), cheap enough for the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Gateway overhead is sub-millisecond; model calls take seconds: cover both ends.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class GatewayMetrics:
    """The gateway's counters and histograms.

    Args:
        registry: where to register them; default a new `CollectorRegistry`.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "releasegate_requests",
            "Requests finished, by route, HTTP status and key tier",
            ["route", "status", "tier"],
            registry=r,
        )
        self.latency = Histogram(
            "releasegate_request_duration_seconds",
            "Time from arrival to the end of the response (streams: to their last event)",
            ["route", "tier"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.flags = Counter(
            "releasegate_guard_flags",
            "Guard verdicts that flagged, by stage (input, output) and hazard category",
            ["stage", "category"],
            registry=r,
        )
        self.suspensions = Counter(
            "releasegate_key_suspensions",
            "Keys suspended automatically by misuse monitoring, by tier",
            ["tier"],
            registry=r,
        )
        self.quota_rejections = Counter(
            "releasegate_quota_rejections",
            "Requests refused with 429 (rate limit or token quota), by tier and reason",
            ["tier", "code"],
            registry=r,
        )
        self._children: dict[tuple[str, int, str], tuple[Any, Any]] = {}
        self.monitor_failures = Counter(
            "releasegate_monitor_unavailable",
            "Flagged requests refused with 503 because misuse monitoring could not count them",
            registry=r,
        )

    def observe_request(
        self, route: str, status: int, tier: str, seconds: float, code: str | None = None
    ) -> None:
        """Count one finished request (and its 429, if it was one)."""
        # `labels()` takes a lock and builds a tuple key; the children never change, so keep
        # them (this halves the cost per request).
        key = (route, status, tier)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, str(status), tier),
                self.latency.labels(route, tier),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if status == 429:
            self.quota_rejections.labels(tier, code or "rate_limit").inc()

    def observe_flags(self, stage: str, categories: Iterable[str]) -> None:
        """Count one flagged verdict under each of its categories ('unspecified' if none)."""
        cats = list(categories) or ["unspecified"]
        for category in cats:
            self.flags.labels(stage, category).inc()

    def render(self) -> bytes:
        """The text exposition format Prometheus scrapes."""
        return generate_latest(self.registry)


__all__ = ["LATENCY_BUCKETS", "GatewayMetrics"]
