"""Misuse monitoring: per-key counts of flagged requests in a sliding window, automatic
suspension with an incident when a key crosses its tier's threshold, and the gateway's
Prometheus metrics. See docs/monitoring.md.
"""

from releasegate.monitoring._counter import (
    CountResult,
    FlagCounter,
    FlagEvent,
    MemoryFlagCounter,
    MonitorUnavailable,
    RedisFlagCounter,
    make_counter,
)
from releasegate.monitoring._incidents import (
    Incident,
    IncidentNotFoundError,
    IncidentStatus,
    IncidentStore,
)
from releasegate.monitoring._metrics import GatewayMetrics
from releasegate.monitoring._monitor import MisuseMonitor, Monitor

__all__ = [
    "CountResult",
    "FlagCounter",
    "FlagEvent",
    "GatewayMetrics",
    "Incident",
    "IncidentNotFoundError",
    "IncidentStatus",
    "IncidentStore",
    "MemoryFlagCounter",
    "MisuseMonitor",
    "Monitor",
    "MonitorUnavailable",
    "RedisFlagCounter",
    "make_counter",
]
