"""`create_app`: the structured-access gateway as a FastAPI app, built by a factory.

Nothing is created at import time. `create_app` checks the admin token and what the decision
opens: tiers the decision does not allow are withheld (closed with their reason, listed in
`/v1/models`), and an app that could serve no tier at all is refused. The store, the audit
writer, the guards, the rate limiter, the release-state gate and (unless given) the backend are
created in the app's lifespan and closed with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from releasegate.access._keys import KeyRecord, KeyStore
from releasegate.access._tiers import DEFAULT_TIERS, TierSpec
from releasegate.approvals._allowed import DecisionForbidsServing, TierViolation
from releasegate.approvals._openness import Openness, ReleaseState, open_now
from releasegate.backends._base import ModelBackend
from releasegate.backends._fingerprint import default_served_name
from releasegate.gateway._admin import AdminActions, AdminRoute
from releasegate.gateway._errors import ApiError
from releasegate.gateway._gate import LiveGate, StaticGate, model_metadata
from releasegate.gateway._keys import KeyCache
from releasegate.gateway._monitoring import monitoring_routes, start_monitoring
from releasegate.gateway._pipeline import Observer, Pipeline
from releasegate.gateway._ratelimit import RateLimiter
from releasegate.gateway._research import research_routes
from releasegate.gateway._routes import GenerateRoute, ModelsRoute
from releasegate.guards._chain import GuardChain
from releasegate.policy._decision import Decision
from releasegate.settings import Settings

log = logging.getLogger("releasegate.gateway")


class GatewayConfigError(Exception):
    """The gateway must not start as configured (no admin token, a tier the decision forbids)."""


@dataclass
class Gateway:
    """Everything a running gateway holds; `app.state.gateway` once the lifespan has started."""

    settings: Settings
    backend: ModelBackend
    model_name: str
    tiers: dict[str, TierSpec]
    pipeline: Pipeline
    keys: KeyStore
    audit: Any
    chat: GenerateRoute
    completions: GenerateRoute
    models: ModelsRoute
    admin: AdminActions
    resources: list[Any] = field(default_factory=list)
    monitor: Any = None  # releasegate.monitoring.MisuseMonitor
    metrics: Any = None  # releasegate.monitoring.GatewayMetrics (GET /metrics)
    gate: StaticGate | LiveGate | None = None  # what is open now


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
        settings: releasegate settings (store, Redis, admin token, audit, limits).
        model: a backend spec (`bundled:smollm2`, `openai:URL#MODEL`...), loaded at startup;
            ignored when `backend` is given.
        backend: an already built backend (tests, embedding); not closed by the app.
        decision: a decision to enforce as given, its signatures unchecked (the caller vouches
            for it: tests, embedding, `--dev`); the gateway withholds the tiers it forbids.
        decision_id: a decision in the store to enforce live (what `releasegate serve` uses):
            its signatures are checked, and a halt, a revoked signer or a fired trigger closes
            tiers on every process within a second.
        fingerprint: the served model's fingerprint, shown in `/v1/models`.
        tiers: the tiers to offer (a policy's `access_tiers`); default `DEFAULT_TIERS`.
        dev: allow starting without an admin token or a decision (local development); every
            model entry and every response is marked unreviewed.
        observers: async callables told about every finished request (monitoring, metrics).

    Returns:
        The FastAPI app; serve it with uvicorn.

    Raises:
        GatewayConfigError: no admin token without `dev`; no model; no decision without `dev`.
        DecisionForbidsServing: the decision given allows none of the tiers.
    """
    settings = settings or Settings()
    offered = dict(tiers or DEFAULT_TIERS)
    for name, tier in offered.items():
        if tier.name != name:
            raise GatewayConfigError(f"tier {name!r} is named {tier.name!r} inside")
    if settings.admin_token is None and not dev:
        raise GatewayConfigError(
            "no admin token: set RELEASEGATE_ADMIN_TOKEN (the admin API needs it), or run with "
            "--dev for local development"
        )
    if decision is None and decision_id is None and not dev:
        raise GatewayConfigError("no decision to enforce: pass --decision (or --dev)")
    if backend is None and model is None:
        raise GatewayConfigError("no model: pass a model spec or a backend")
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
            gateway = await _start(
                settings, model, backend, offered, observers or [], gate, dev, fingerprint
            )
        except BaseException:
            await gate.aclose()
            raise
        app.state.gateway = gateway
        try:
            yield
        finally:
            await _stop(gateway, close_backend=backend is None)

    app = FastAPI(
        title="releasegate gateway",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # FastAPI's native OpenTelemetry checks the global providers on every request (~0.1 ms
        # here); the audit log already records every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )

    async def chat(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        return await g.pipeline.run(request, g.chat)

    async def completions(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        return await g.pipeline.run(request, g.completions)

    async def models(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        return await g.pipeline.run(request, g.models)

    async def create_key(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        route = AdminRoute("keys.create", g.admin.create, needs_body=True)
        return await g.pipeline.run(request, route)

    async def list_keys(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        route = AdminRoute("keys.list", g.admin.list, needs_body=False)
        return await g.pipeline.run(request, route)

    async def revoke_key(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        route = AdminRoute(
            "keys.revoke", g.admin.revoke(request.path_params["key_id"]), needs_body=False
        )
        return await g.pipeline.run(request, route)

    async def rotate_key(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        route = AdminRoute(
            "keys.rotate", g.admin.rotate(request.path_params["key_id"]), needs_body=False
        )
        return await g.pipeline.run(request, route)

    async def suspend_key(request: Request) -> Response:
        g: Gateway = request.app.state.gateway
        route = AdminRoute(
            "keys.suspend", g.admin.suspend(request.path_params["key_id"]), needs_body=False
        )
        return await g.pipeline.run(request, route)

    # Plain Starlette routes on the FastAPI router: the handlers take the raw request, so no
    # per-request dependency solving or response validation runs on the hot path.
    for path, endpoint, method in (
        ("/v1/chat/completions", chat, "POST"),
        ("/v1/completions", completions, "POST"),
        ("/v1/models", models, "GET"),
        ("/admin/keys", create_key, "POST"),
        ("/admin/keys", list_keys, "GET"),
        ("/admin/keys/{key_id}/revoke", revoke_key, "POST"),
        ("/admin/keys/{key_id}/rotate", rotate_key, "POST"),
        ("/admin/keys/{key_id}/suspend", suspend_key, "POST"),
    ):
        app.router.routes.append(Route(path, endpoint, methods=[method]))
    app.router.routes.extend(monitoring_routes())  # /metrics, /admin/incidents...
    app.router.routes.extend(research_routes())  # /v1/research/... (tier capability research)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        message = (
            f"no route {request.method} {request.url.path}"
            if exc.status_code in (404, 405)
            else str(exc.detail)
        )
        err = ApiError(exc.status_code, message, code=code)
        return Response(
            err.body_bytes(), status_code=exc.status_code, media_type="application/json"
        )

    app.add_exception_handler(StarletteHTTPException, http_error)
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
    from releasegate.approvals._signers import trusted_keys
    from releasegate.audit import audit_log_from_settings
    from releasegate.store._open import open_store

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


async def _start(
    settings: Settings,
    model: str | None,
    backend: ModelBackend | None,
    tiers: dict[str, TierSpec],
    observers: list[Observer],
    gate: StaticGate | LiveGate,
    dev: bool,
    fingerprint: str | None,
) -> Gateway:
    from releasegate.audit import audit_log_from_settings
    from releasegate.guards import build_guards
    from releasegate.store._open import open_store

    engine, sessions = await asyncio.to_thread(open_store, settings)
    resources: list[Any] = [engine]
    try:
        store = KeyStore(sessions)
        audit = audit_log_from_settings(settings, sessions)
        guards: dict[str, GuardChain] = {}
        built: dict[tuple[str, ...], GuardChain] = {}  # tiers with the same guards share them
        for name, tier in tiers.items():
            names = tuple(tier.guards)
            if names not in built:
                built[names] = await asyncio.to_thread(build_guards, names, settings)
            guards[name] = built[names]
        if backend is None:
            from releasegate.backends import load_backend

            assert model is not None
            backend = await asyncio.to_thread(load_backend, model, settings)
        model_name = settings.served_model_name or default_served_name(model or backend.name)
        cache: KeyCache[KeyRecord] = KeyCache(store.authenticate, ttl_s=settings.key_cache_ttl_s)
        limiter = RateLimiter(settings.redis_url)
        pipeline = Pipeline(
            tiers=tiers,
            guards=guards,
            keys=cache,
            limiter=limiter,
            audit_append=audit.append_async,
            admin_token=(settings.admin_token.get_secret_value() if settings.admin_token else None),
            max_body_bytes=settings.max_body_bytes,
            stream_window=getattr(settings, "guard_stream_window_chars", 400),
            stream_overlap=getattr(settings, "guard_stream_overlap_chars", 100),
            gate=gate,
        )
        monitor, metrics, watch = start_monitoring(settings, sessions, audit.append_async, cache)
        pipeline.observers.append(watch)
        pipeline.anonymous_observers.append(watch.anonymous)
        pipeline.observers.extend(observers)
        return Gateway(
            settings=settings,
            backend=backend,
            model_name=model_name,
            tiers=tiers,
            pipeline=pipeline,
            keys=store,
            audit=audit,
            chat=GenerateRoute("chat", backend, model_name),
            completions=GenerateRoute("completion", backend, model_name),
            models=ModelsRoute(
                model_name,
                metadata=lambda: model_metadata(gate, dev=dev, fingerprint=fingerprint),
            ),
            admin=AdminActions(store, tiers, cache),
            resources=[engine, cache, limiter],
            monitor=monitor,
            metrics=metrics,
            gate=gate,
        )
    except BaseException:
        for r in resources:
            r.dispose()
        raise


async def _stop(gateway: Gateway, *, close_backend: bool) -> None:
    await gateway.audit.aclose()
    engine, cache, limiter = gateway.resources
    await gateway.monitor.aclose()
    cache.close()
    await limiter.aclose()
    if close_backend:
        await gateway.backend.aclose()
    if gateway.gate is not None:
        await gateway.gate.aclose()
    engine.dispose()


__all__ = ["Gateway", "GatewayConfigError", "create_app"]
