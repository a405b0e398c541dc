"""The public API of releasegate.monitoring is exactly the intended names."""

import releasegate.monitoring as monitoring


def test_exported_names() -> None:
    assert sorted(monitoring.__all__) == [
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
        "MonitorUnavailable",
        "RedisFlagCounter",
        "make_counter",
    ]
    for name in monitoring.__all__:
        assert getattr(monitoring, name) is not None
