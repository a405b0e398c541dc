"""The structured-access gateway: an OpenAI-compatible API that serves a model only as far as
its release decision allows, through one pipeline (authenticate → validate → authorize the
tier → rate limit → input guards → model → output guards → audit) for every route.

Every HTTP route is a row of one table (`ROUTES`, rows of `RouteRow`): method, path, handler,
request and response models, who may call it (`Requires`) and how it is metered (`RateLimit`).
Build the app with `create_app(settings, model=... | backend=..., decision=..., tiers=...)` and
serve it with `run_app` (uvicorn with header, body and keep-alive timeouts; what
`releasegate serve` runs). See docs/gateway.md.
"""

from releasegate._util.wire import NonEmptyText, Text
from releasegate.gateway._app import GatewayConfigError, create_app
from releasegate.gateway._call import Call, Observer, Principal, Route, Streamed, Unary
from releasegate.gateway._enforce import (
    DecisionForbidsServing,
    TierViolation,
    check_tiers,
    enforce_decision,
)
from releasegate.gateway._errors import ApiError
from releasegate.gateway._http import run_app
from releasegate.gateway._openapi import ErrorResponse
from releasegate.gateway._pipeline import Pipeline
from releasegate.gateway._ratelimit import Quota, RateLimiter
from releasegate.gateway._row import RateLimit, Requires, RouteRow
from releasegate.gateway._state import Gateway
from releasegate.gateway._table import ROUTES

__all__ = [
    "ROUTES",
    "ApiError",
    "Call",
    "DecisionForbidsServing",
    "ErrorResponse",
    "Gateway",
    "GatewayConfigError",
    "NonEmptyText",
    "Observer",
    "Pipeline",
    "Principal",
    "Quota",
    "RateLimit",
    "RateLimiter",
    "Requires",
    "Route",
    "RouteRow",
    "Streamed",
    "Text",
    "TierViolation",
    "Unary",
    "check_tiers",
    "create_app",
    "enforce_decision",
    "run_app",
]
