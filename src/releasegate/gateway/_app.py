"""`create_app`: the structured-access gateway as a FastAPI app, built by a factory.

Nothing is created at import time. `create_app` checks the admin token and what the decision
opens (tiers it does not allow are withheld, closed with their reason and listed in
`/v1/models`; an app that could serve no tier at all is refused) and registers the route table's
rows; the store, the audit log, the guards, the rate limiter, the monitor, the release-state
gate, (unless given) the backend and each row's handler are created in the app's lifespan and
closed with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from releasegate._util.tokens import GENERATE_HINT, token_problem
from releasegate.access._applications import AccessProgramme
from releasegate.access._keys import KeyRecord, KeyStore
from releasegate.access._principals import PrincipalRecord, PrincipalStore
from releasegate.access._tiers import DEFAULT_TIERS, TierSpec
from releasegate.approvals import (
    DecisionForbidsServing,
    Openness,
    ReleaseState,
    TierViolation,
    open_now,
    trusted_keys,
)
from releasegate.audit import AuditWriter, Checkpointer, audit_log_from_settings
from releasegate.backends import default_served_name, load_backend
from releasegate.backends._base import ModelBackend
from releasegate.finetune import FineTuneStore
from releasegate.gateway._budget import ExtractionBudget
from releasegate.gateway._call import Observer
from releasegate.gateway._errors import ApiError
from releasegate.gateway._finetuned import FineTunedModels
from releasegate.gateway._gate import LiveGate, StaticGate
from releasegate.gateway._inflight import InFlight
from releasegate.gateway._keys import KeyCache
from releasegate.gateway._monitoring import start_monitoring
from releasegate.gateway._openapi import openapi_schema
from releasegate.gateway._pipeline import Pipeline
from releasegate.gateway._ratelimit import RateLimiter
from releasegate.gateway._row import RouteRow
from releasegate.gateway._state import Gateway
from releasegate.gateway._table import ROUTES
from releasegate.guards import build_guards
from releasegate.guards._chain import GuardChain, guard_artefacts
from releasegate.policy._decision import Decision
from releasegate.settings import Settings
from releasegate.store import open_store

log = logging.getLogger("releasegate.gateway")

DESCRIPTION = (
    "releasegate's structured-access gateway: an OpenAI-compatible API, research endpoints for "
    "vetted tiers and an admin API. Every route runs through one pipeline: authenticate → "
    "validate → authorize the tier → rate limit → input guards → model → output guards → audit."
)


class GatewayConfigError(Exception):
    """The gateway must not start as configured (no decision, a tier the decision forbids)."""


def create_app(
    settings: Settings | None = None,
    *,
    model: str | None = None,
    backend: ModelBackend | None = None,
    decision: Decision | None = None,
    decision_id: str | None = None,
    fingerprint: str | None = None,
    tiers: Mapping[str, TierSpec] | None = None,
    dev: bool = False,
    observers: list[Observer] | None = None,
) -> FastAPI:
    """Build the gateway app.

    Args:
        settings: releasegate settings (store, Redis, admin token, audit, limits); read from
            the environment when omitted (the app factory is an edge, like the CLI).
        model: a backend spec (`echo:`, `bundled:smollm2`, `openai:URL#MODEL`...), loaded at
            startup; ignored when `backend` is given.
        backend: an already built backend (tests, embedding); not closed by the app.
        decision: a decision to enforce as given, its signatures unchecked (the caller vouches
            for it: tests, embedding, `--dev`); the gateway withholds the tiers it forbids.
        decision_id: a decision in the store to enforce live (what `releasegate serve` uses):
            its signatures are checked, and a halt, a revoked signer or a fired trigger closes
            tiers on every process within a second.
        fingerprint: the served model's fingerprint, shown in `/v1/models`.
        tiers: the tiers to offer (a policy's `access_tiers`); default `DEFAULT_TIERS`.
        dev: allow starting without a decision (local development); every
            model entry and every response is marked unreviewed.
        observers: async callables told about every finished request (monitoring, metrics).

    Returns:
        The FastAPI app; serve it with uvicorn. `/openapi.json` and `/docs` describe its routes.

    Raises:
        GatewayConfigError: no model; no decision without `dev`.
        DecisionForbidsServing: the decision given allows none of the tiers.
    """
    settings = settings or Settings()
    offered = dict(tiers or DEFAULT_TIERS)
    _check_config(settings, offered, decision or decision_id, dev=dev, has_model=backend or model)
    static: StaticGate | None = None
    if decision_id is None:
        state = ReleaseState(decision, decision.content_sha256[:16], None) if decision else None
        static = StaticGate(open_now(state, offered, datetime.now(UTC)))
        if decision is not None and not static.snapshot.open_tiers:
            raise DecisionForbidsServing(_violations(static.snapshot))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gate = static if static is not None else await _live_gate(settings, decision_id, offered)
        try:
            gateway = await _start(settings, model, backend, offered, observers or [], gate)
        except BaseException:
            await gate.aclose()
            raise
        gateway.dev, gateway.fingerprint = dev, fingerprint
        app.state.gateway = gateway
        try:
            yield
        finally:
            await _stop(gateway, close_backend=backend is None)

    app = FastAPI(
        title="releasegate gateway",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        # FastAPI's native OpenTelemetry checks the global providers on every request (~0.1 ms
        # here); the audit log already records every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    register_routes(app, ROUTES)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    if dev:
        app.add_middleware(_UnreviewedHeader)
    return app


class _UnreviewedHeader:
    """`--dev` only: every response says that no signed decision binds this gateway."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def marked(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-releasegate-review", b"unreviewed"))
            await send(message)

        await self.app(scope, receive, marked if scope["type"] == "http" else send)


def _violations(openness: Openness) -> list[TierViolation]:
    if openness.closed_reason is not None:
        first = next(iter(openness.tiers.values()), None)
        code = first.code if first is not None else "decision_closed"
        return [TierViolation(None, code or "decision_closed", openness.closed_reason)]
    return [
        TierViolation(name, state.code or "tier_not_allowed", state.reason or "")
        for name, state in openness.tiers.items()
    ]


async def _live_gate(
    settings: Settings, decision_id: str | None, tiers: dict[str, TierSpec]
) -> LiveGate:
    assert decision_id is not None
    engine, sessions = await asyncio.to_thread(open_store, settings)
    gate = LiveGate(
        sessions,
        audit_log_from_settings(settings, sessions),
        decision_id,
        tiers,
        poll_s=settings.decision_poll_s,
        max_age_s=settings.decision_max_staleness_s,
        redis_url=settings.redis_url,
        engine=engine,
        trusted_keys=trusted_keys(settings.trusted_signer_keys),
    )
    try:
        await gate.start()
    except BaseException:
        await gate.aclose()
        raise
    return gate


def _check_config(
    settings: Settings,
    offered: dict[str, TierSpec],
    decision: object,
    *,
    dev: bool,
    has_model: object,
) -> None:
    for name, tier in offered.items():
        if tier.name != name:
            raise GatewayConfigError(f"tier {name!r} is named {tier.name!r} inside")
    if settings.admin_token is not None:
        # A guessable token is worse than none (which only --dev allows): refuse it even there.
        problem = token_problem(settings.admin_token.get_secret_value())
        if problem is not None:
            raise GatewayConfigError(
                f"the admin token (RELEASEGATE_ADMIN_TOKEN) is too weak: {problem}; {GENERATE_HINT}"
            )
    if not decision and not dev:
        raise GatewayConfigError("no decision to enforce: pass --decision (or --dev)")
    if not has_model:
        raise GatewayConfigError("no model: pass a model spec or a backend")


def _endpoint(row: RouteRow[Gateway]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        return await g.pipeline.run(request, row, g.handlers[row.name])

    endpoint.__name__ = row.name.replace(".", "_")
    return endpoint


def register_routes(app: FastAPI, rows: tuple[RouteRow[Gateway], ...]) -> None:
    """Register each row as a plain Starlette route whose endpoint hands the raw request to the
    pipeline (no per-request dependency solving or response validation), and generate
    `/openapi.json` from the rows.

    Raises:
        GatewayConfigError: two rows share a name, or a method and path.
    """
    names = [row.name for row in rows]
    routes = [(row.method, row.path) for row in rows]
    if len(set(names)) != len(names) or len(set(routes)) != len(routes):
        raise GatewayConfigError("the route table has two rows with one name or method and path")
    for row in rows:
        app.router.routes.append(StarletteRoute(row.path, _endpoint(row), methods=[row.method]))
    schema: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not schema:
            schema.update(
                openapi_schema(rows, title=app.title, version=app.version, description=DESCRIPTION)
            )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    message = (
        f"no route {request.method} {request.url.path}"
        if exc.status_code in (404, 405)
        else str(exc.detail)
    )
    err = ApiError(exc.status_code, message, code=code)
    return Response(err.body_bytes(), status_code=exc.status_code, media_type="application/json")


async def _guard_chains(tiers: dict[str, TierSpec], settings: Settings) -> dict[str, GuardChain]:
    chains: dict[str, GuardChain] = {}
    built: dict[tuple[str, ...], GuardChain] = {}  # tiers with the same guards share them
    for name, tier in tiers.items():
        names = tuple(tier.guards)
        if names not in built:
            built[names] = await asyncio.to_thread(build_guards, names, settings)
            for path, digest in guard_artefacts(built[names]).items():
                log.info("guards %s: %s sha256 %s", ",".join(names), path, digest)
        chains[name] = built[names]
    return chains


async def _start(
    settings: Settings,
    model: str | None,
    backend: ModelBackend | None,
    tiers: dict[str, TierSpec],
    observers: list[Observer],
    gate: StaticGate | LiveGate,
) -> Gateway:
    engine, sessions = await asyncio.to_thread(open_store, settings)
    try:
        store = KeyStore(sessions)
        audit_log = audit_log_from_settings(settings, sessions)
        # Every process of a fleet must sign with the store's key: a mismatch refuses to start.
        await asyncio.to_thread(audit_log.claim_key)
        audit = AuditWriter(audit_log)
        checkpointer = Checkpointer(audit_log, settings.audit_checkpoint_interval_s)
        inflight = InFlight(sessions, audit_log, heartbeat_s=settings.heartbeat_s)
        guards = await _guard_chains(tiers, settings)
        if backend is None:
            assert model is not None
            backend = await asyncio.to_thread(load_backend, model, settings)
        cache: KeyCache[KeyRecord] = KeyCache(store.authenticate, ttl_s=settings.key_cache_ttl_s)
        principals = PrincipalStore(sessions, audit_log)
        principal_cache: KeyCache[PrincipalRecord] = KeyCache(
            principals.authenticate, ttl_s=settings.key_cache_ttl_s
        )
        limiter = RateLimiter(settings.redis_url)
        pipeline = Pipeline(
            tiers=tiers,
            guards=guards,
            keys=cache,
            limiter=limiter,
            audit=audit,
            admin_token=(settings.admin_token.get_secret_value() if settings.admin_token else None),
            max_body_bytes=settings.max_body_bytes,
            body_timeout_s=settings.body_timeout_s,
            admin_failures_per_minute=settings.admin_failures_per_minute,
            stream_window=settings.guard_stream_window_chars,
            stream_overlap=settings.guard_stream_overlap_chars,
            gate=gate,
            inflight=inflight,
            principals=principal_cache,
        )
        monitor, metrics, watch = start_monitoring(settings.redis_url, sessions, audit, cache)
        pipeline.observers.append(watch)
        pipeline.anonymous_observers.append(watch.anonymous)
        pipeline.observers.extend(observers)
        if isinstance(gate, LiveGate):  # guard failure rates for the stage plan's triggers
            pipeline.observers.append(gate.observe)
        # Never the spec itself: no upstream URL, host, port or path reaches a client.
        model_name = settings.served_model_name or default_served_name(model or backend.name)
        finetune = FineTuneStore(sessions, audit_log)
        gateway = Gateway(
            settings=settings,
            backend=backend,
            model_name=model_name,
            tiers=tiers,
            pipeline=pipeline,
            keys=store,
            key_cache=cache,
            limiter=limiter,
            budget=ExtractionBudget(limiter),
            audit=audit,
            audit_log=audit_log,
            monitor=monitor,
            metrics=metrics,
            engine=engine,
            principals=principals,
            programme=AccessProgramme(sessions, audit_log, tiers),
            gate=gate,
            finetune=finetune,
            finetuned=FineTunedModels(finetune, settings, model_name),
        )
        gateway.handlers = {row.name: row.handler(gateway) for row in ROUTES}
        await inflight.start()  # and closes the streams that dead processes left open
        checkpointer.start()
        gateway.checkpointer = checkpointer
        return gateway
    except BaseException:
        engine.dispose()
        raise


async def _stop(gateway: Gateway, *, close_backend: bool) -> None:
    await gateway.audit.aclose()
    if gateway.checkpointer is not None:
        await gateway.checkpointer.aclose()  # after the last record: it covers them all
    if gateway.pipeline.inflight is not None:
        await gateway.pipeline.inflight.aclose()
    await gateway.monitor.aclose()
    gateway.key_cache.close()
    if gateway.pipeline.principals is not None:
        gateway.pipeline.principals.close()
    await gateway.limiter.aclose()
    if close_backend:
        await gateway.backend.aclose()
    if gateway.finetuned is not None:
        await gateway.finetuned.aclose()
    if gateway.gate is not None:
        await gateway.gate.aclose()
    gateway.engine.dispose()


__all__ = ["GatewayConfigError", "create_app", "register_routes"]
