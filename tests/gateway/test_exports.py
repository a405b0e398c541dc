"""The public API of releasegate.gateway is exactly the intended names."""

import releasegate.gateway as gateway


def test_exported_names() -> None:
    assert sorted(gateway.__all__) == [
        "ApiError",
        "Call",
        "DecisionForbidsServing",
        "Gateway",
        "GatewayConfigError",
        "Observer",
        "Pipeline",
        "Principal",
        "Quota",
        "RateLimiter",
        "Route",
        "Streamed",
        "TierViolation",
        "Unary",
        "check_tiers",
        "create_app",
        "enforce_decision",
    ]
    for name in gateway.__all__:
        assert getattr(gateway, name) is not None
