"""The structured-access gateway: an OpenAI-compatible API that serves a model only as far as
its release decision allows, through one pipeline (authenticate → authorize the tier → rate
limit → input guards → model → output guards → audit) for every route.

Build it with `create_app(settings, model=... | backend=..., decision=..., tiers=...)` and serve
it with uvicorn (`releasegate serve`). See docs/gateway.md.
"""

from releasegate.gateway._app import Gateway, GatewayConfigError, create_app
from releasegate.gateway._enforce import (
    DecisionForbidsServing,
    TierViolation,
    check_tiers,
    enforce_decision,
)
from releasegate.gateway._errors import ApiError
from releasegate.gateway._pipeline import (
    Call,
    Observer,
    Pipeline,
    Principal,
    Route,
    Streamed,
    Unary,
)
from releasegate.gateway._ratelimit import Quota, RateLimiter

__all__ = [
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
