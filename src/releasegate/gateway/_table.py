"""The route table: every HTTP route of the gateway, one row each.

To add a route: write its request and response models (pydantic, text fields typed `Text`), a
handler factory `(Gateway) -> Route`, and append a row here. `create_app` registers it,
`/openapi.json` documents it, and the pipeline validates, authorizes, meters, guards and audits
it like every other route. docs/gateway.md ("Adding a route") walks through an example.
"""

from __future__ import annotations

from releasegate.gateway._admin import (
    create_key_route,
    list_incidents_route,
    list_keys_route,
    metrics_route,
    resolve_incident_route,
    revoke_key_route,
    rotate_key_route,
    show_incident_route,
    suspend_key_route,
)
from releasegate.gateway._admin_models import (
    CreateKeyRequest,
    IncidentList,
    IncidentOut,
    IncidentQuery,
    Key,
    KeyCreated,
    KeyList,
    ResolveIncidentRequest,
    SuspendKeyRequest,
)
from releasegate.gateway._openai_models import (
    ChatCompletion,
    ChatCompletionRequest,
    CompletionRequest,
    ModelList,
    TextCompletion,
)
from releasegate.gateway._research import hidden_states_route, logit_lens_route, steer_route
from releasegate.gateway._research_models import (
    HiddenStatesRequest,
    HiddenStatesResponse,
    LogitLensRequest,
    LogitLensResponse,
    SteerRequest,
    SteerResponse,
)
from releasegate.gateway._routes import chat_route, completions_route, models_route
from releasegate.gateway._row import RateLimit, Requires, RouteRow
from releasegate.gateway._stage_models import (
    PromoteRequest,
    RollbackRequest,
    StageStatusOut,
    StageTransitionOut,
)
from releasegate.gateway._stage_routes import (
    stage_promote_route,
    stage_rollback_route,
    stage_status_route,
)
from releasegate.gateway._state import Gateway

KEY = Requires.key()
ADMIN = Requires.admin()
RESEARCH = Requires.key("research")
TIER = RateLimit.tier()
# Admin actions are metered too (no route bypasses the pipeline), generously.
ADMIN_RATE = RateLimit.per_minute(600)

OPENAI = ("OpenAI-compatible",)
RESEARCH_TAG = ("research",)
KEYS = ("admin: keys",)
OVERSIGHT = ("admin: monitoring",)
STAGES = ("admin: staged release",)

ROUTES: tuple[RouteRow[Gateway], ...] = (
    # -- OpenAI-compatible -------------------------------------------------------------------
    RouteRow(
        "POST", "/v1/chat/completions", chat_route, name="chat.completions",
        request=ChatCompletionRequest, response=ChatCompletion, requires=KEY, rate_limit=TIER,
        summary="Chat completion (streams with stream: true)", tags=OPENAI,
    ),
    RouteRow(
        "POST", "/v1/completions", completions_route, name="completions",
        request=CompletionRequest, response=TextCompletion, requires=KEY, rate_limit=TIER,
        summary="Text completion (legacy; streams with stream: true)", tags=OPENAI,
    ),
    RouteRow(
        "GET", "/v1/models", models_route, name="models",
        request=None, response=ModelList, requires=KEY, rate_limit=TIER,
        summary="The models this key's tier may use", tags=OPENAI,
    ),
    # -- research (tier capability `research`) -------------------------------------------------
    RouteRow(
        "POST", "/v1/research/hidden_states", hidden_states_route, name="research.hidden_states",
        request=HiddenStatesRequest, response=HiddenStatesResponse, requires=RESEARCH,
        rate_limit=TIER, summary="Residual-stream activations of a text", tags=RESEARCH_TAG,
    ),
    RouteRow(
        "POST", "/v1/research/logit_lens", logit_lens_route, name="research.logit_lens",
        request=LogitLensRequest, response=LogitLensResponse, requires=RESEARCH,
        rate_limit=TIER, summary="Each layer read through the unembedding", tags=RESEARCH_TAG,
    ),
    RouteRow(
        "POST", "/v1/research/steer", steer_route, name="research.steer",
        request=SteerRequest, response=SteerResponse, requires=RESEARCH, rate_limit=TIER,
        summary="Generate while adding a steering vector at a layer", tags=RESEARCH_TAG,
    ),
    # -- admin: keys ---------------------------------------------------------------------------
    RouteRow(
        "POST", "/admin/keys", create_key_route, name="keys.create",
        request=CreateKeyRequest, response=KeyCreated, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Create a key (its plaintext is returned this once)", tags=KEYS,
    ),
    RouteRow(
        "GET", "/admin/keys", list_keys_route, name="keys.list",
        request=None, response=KeyList, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="List keys", tags=KEYS,
    ),
    RouteRow(
        "POST", "/admin/keys/{key_id}/revoke", revoke_key_route, name="keys.revoke",
        request=None, response=Key, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Revoke a key (refused by every process within a second)", tags=KEYS,
    ),
    RouteRow(
        "POST", "/admin/keys/{key_id}/rotate", rotate_key_route, name="keys.rotate",
        request=None, response=KeyCreated, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Replace a key by a new one with the same tier, owner and limits", tags=KEYS,
    ),
    RouteRow(
        "POST", "/admin/keys/{key_id}/suspend", suspend_key_route, name="keys.suspend",
        request=SuspendKeyRequest, response=Key, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Suspend a key", body_optional=True, tags=KEYS,
    ),
    # -- admin: monitoring ---------------------------------------------------------------------
    RouteRow(
        "GET", "/metrics", metrics_route, name="metrics",
        request=None, response=None, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Prometheus metrics", media_type="text/plain; version=0.0.4", tags=OVERSIGHT,
    ),
    RouteRow(
        "GET", "/admin/incidents", list_incidents_route, name="incidents.list",
        request=IncidentQuery, response=IncidentList, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="List misuse incidents", tags=OVERSIGHT,
    ),
    RouteRow(
        "GET", "/admin/incidents/{incident_id}", show_incident_route, name="incidents.show",
        request=None, response=IncidentOut, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="Show an incident", tags=OVERSIGHT,
    ),
    RouteRow(
        "POST", "/admin/incidents/{incident_id}/resolve", resolve_incident_route,
        name="incidents.resolve", request=ResolveIncidentRequest, response=IncidentOut,
        requires=ADMIN, rate_limit=ADMIN_RATE, summary="Resolve an incident", tags=OVERSIGHT,
    ),
    # -- admin: staged release -----------------------------------------------------------------
    RouteRow(
        "GET", "/admin/stage", stage_status_route, name="stage.status",
        request=None, response=StageStatusOut, requires=ADMIN, rate_limit=ADMIN_RATE,
        summary="The current stage, time in it, and each item of the next gate", tags=STAGES,
    ),
    RouteRow(
        "POST", "/admin/stage/promote", stage_promote_route, name="stage.promote",
        request=PromoteRequest, response=StageTransitionOut, requires=ADMIN,
        rate_limit=ADMIN_RATE, tags=STAGES,
        summary="Record signed sign-offs, then enter the next stage if its gate is met (409 "
        "gate_unmet lists what is not)",
    ),
    RouteRow(
        "POST", "/admin/stage/rollback", stage_rollback_route, name="stage.rollback",
        request=RollbackRequest, response=StageTransitionOut, requires=ADMIN,
        rate_limit=ADMIN_RATE, tags=STAGES,
        summary="Step back to an earlier stage (every gateway within a second)",
    ),
)  # fmt: skip

__all__ = ["ROUTES"]
