"""`Gateway`: everything a running gateway holds (`app.state.gateway` once the lifespan has
started). Route handlers are built from it, once, when the gateway starts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from releasegate.access._applications import AccessProgramme
from releasegate.access._keys import KeyRecord, KeyStore
from releasegate.access._principals import PrincipalStore
from releasegate.access._tiers import TierSpec
from releasegate.audit import AuditLog, AuditSink, Checkpointer
from releasegate.backends._base import ModelBackend
from releasegate.finetune import FineTuneStore
from releasegate.gateway._budget import ExtractionBudget
from releasegate.gateway._call import Route
from releasegate.gateway._finetuned import FineTunedModels
from releasegate.gateway._gate import LiveGate, StaticGate
from releasegate.gateway._keys import KeyCache
from releasegate.gateway._pipeline import Pipeline
from releasegate.gateway._ratelimit import RateLimiter
from releasegate.monitoring import GatewayMetrics, Monitor
from releasegate.settings import Settings


@dataclass
class Gateway:
    """The parts of one running gateway.

    Args:
        settings: the settings it was built with.
        backend: the model.
        model_name: the id clients send as `model`.
        tiers: the tiers offered, by name.
        pipeline: the one request pipeline.
        keys: the key store (admin routes).
        key_cache: cached key lookups (dropped when a key is revoked or suspended).
        limiter: rate limits and quotas.
        budget: research extraction budgets (floats per key per day).
        audit: where every request's record is appended (the async group-commit writer).
        audit_log: the audit log's synchronous core behind it (read, verify, checkpoint).
        monitor: misuse monitoring (flag counts, incidents).
        metrics: the Prometheus registry behind `GET /metrics`.
        engine: the store's engine (disposed when the gateway stops).
        handlers: each route-table row's handler, by row name.
        gate: what is open now (`approvals.open_now`, kept fresh); asked on every request.
        dev: started with `--dev` (every model entry and response marked unreviewed).
        fingerprint: the served model's fingerprint, shown in `/v1/models`.
        principals: people and service accounts with roles (the admin routes' callers).
        programme: applications, review, claims, renewals and terms.
        finetune: training files and fine-tuning jobs (the fine-tuning routes).
        finetuned: the owners' fine-tuned models (`ft:` names), loaded on first use.
        checkpointer: signs audit checkpoints at an interval and when the gateway stops.
    """

    settings: Settings
    backend: ModelBackend
    model_name: str
    tiers: dict[str, TierSpec]
    pipeline: Pipeline
    keys: KeyStore
    key_cache: KeyCache[KeyRecord]
    limiter: RateLimiter
    budget: ExtractionBudget
    audit: AuditSink
    audit_log: AuditLog
    monitor: Monitor
    metrics: GatewayMetrics
    engine: Engine
    principals: PrincipalStore
    programme: AccessProgramme
    handlers: dict[str, Route] = field(default_factory=dict)
    gate: StaticGate | LiveGate | None = None
    dev: bool = False
    fingerprint: str | None = None
    finetune: FineTuneStore | None = None
    finetuned: FineTunedModels | None = None
    checkpointer: Checkpointer | None = None


__all__ = ["Gateway"]
