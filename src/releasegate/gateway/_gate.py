"""The gateway's side of `open_now`: which tiers are open, asked on every request.

Every request reads an in-memory snapshot (a dict lookup and a clock read); a background task
refreshes it off the hot path. `LiveGate` polls the store's change counter every `poll_s`
(default 0.25 s) and, with Redis, also wakes at once on the `releasegate:approvals` channel,
so a halt, a revoked signer or a fired trigger reaches every gateway process well within a
second. Each poll also checks the triggers that fire by themselves (incidents, expiry) and
records any that are due, and, when the decision has a staged release, the stage in force and
the plan's rollback triggers (incidents opened in the stage, this process's guard failure
rate), stepping the release back when one is due.

It fails closed: when the state could not be refreshed for longer than `max_age_s` (default
1 s, the same bound as a halt's propagation), every keyed request gets 503
`decision_state_unavailable` rather than being served on a state that may have been
withdrawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from releasegate.access._tiers import TierSpec
from releasegate.approvals._changes import CHANNEL, read_version
from releasegate.approvals._openness import Openness, ReleaseState, load_release_state, open_now
from releasegate.approvals._triggers import due_triggers, fire_trigger
from releasegate.audit import AuditLog
from releasegate.gateway._call import Call
from releasegate.gateway._errors import ApiError, forbidden, unavailable
from releasegate.stages import (
    CurrentStage,
    DueRollback,
    StagedRelease,
    current_stage,
    due_rollbacks,
)
from releasegate.store._types import utcnow

log = logging.getLogger("releasegate.gateway")


class Gate(Protocol):
    """What the pipeline asks of the release state on every request."""

    @property
    def snapshot(self) -> Openness:
        """The openness in force now."""
        ...

    def check(self, tier: str) -> None:
        """Raise `ApiError` (403 with the reason, or 503) unless `tier` is open now."""
        ...


def refuse(openness: Openness, tier: str) -> ApiError | None:
    """The 403 for a tier that `openness` keeps closed (None: it is open)."""
    state = openness.tier(tier)
    if state.open:
        return None
    return forbidden(f"tier {tier!r} is closed: {state.reason}", code=state.code or "tier_closed")


class StaticGate:
    """A fixed openness: a decision given in code (the caller vouches for it) or `--dev`."""

    def __init__(self, openness: Openness) -> None:
        self._openness = openness

    @property
    def snapshot(self) -> Openness:
        return self._openness

    def check(self, tier: str) -> None:
        error = refuse(self._openness, tier)
        if error is not None:
            raise error

    async def aclose(self) -> None:
        return None


class LiveGate:
    """The openness of a stored decision, kept fresh from the store (and Redis).

    Args:
        sessions: the store.
        audit: the audit log (for triggers this process finds due).
        decision_id: the decision being served.
        tiers: the tiers offered.
        poll_s: seconds between polls of the change counter.
        max_age_s: after this long without a successful refresh, refuse (503).
        redis_url: also wake on the Redis channel when set.
        engine: disposed when the gate closes (the gate's own connection pool).
        trusted_keys: only these signer public keys count (`RELEASEGATE_TRUSTED_SIGNER_KEYS`).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        decision_id: str,
        tiers: Mapping[str, TierSpec],
        *,
        poll_s: float = 0.25,
        max_age_s: float = 1.0,
        redis_url: str | None = None,
        engine: Engine | None = None,
        trusted_keys: frozenset[str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._engine = engine
        self._trusted = trusted_keys
        self._audit = audit
        self.decision_id = decision_id
        self._tiers = dict(tiers)
        self.poll_s = poll_s
        self.max_age_s = max_age_s
        self._redis_url = redis_url
        self._state: ReleaseState | None = None
        self._version = -1
        self._openness: Openness | None = None
        self._fresh_at = 0.0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.refreshes = 0
        self._stage: CurrentStage | None = None
        # (monotonic time, guard failed) of each keyed request, for guard_failure_rate triggers.
        self._outcomes: deque[tuple[float, bool]] = deque()
        self.rollbacks = 0

    async def observe(self, call: Call) -> None:
        """Pipeline observer: count keyed requests and those refused because a guard could
        not run (the plan's `guard_failure_rate` triggers read the window)."""
        if call.principal is not None and call.principal.tier is not None:
            self._outcomes.append((time.monotonic(), call.error_code == "guard_unavailable"))

    def _guard_window(self) -> tuple[int, int]:
        stage = self._stage
        windows = [
            t.window_s
            for t in (stage.plan.rollback_triggers if stage else ())
            if t.kind == "guard_failure_rate"
        ]
        if not windows:
            self._outcomes.clear()
            return 0, 0
        horizon = time.monotonic() - max(windows)
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()
        outcomes = list(self._outcomes)
        return len(outcomes), sum(1 for _, failed in outcomes if failed)

    @property
    def snapshot(self) -> Openness:
        if self._openness is None:
            raise RuntimeError("LiveGate.start() was not awaited")
        return self._openness

    def check(self, tier: str) -> None:
        if time.monotonic() - self._fresh_at > self.max_age_s:
            raise unavailable(
                "the release decision's state could not be refreshed; refusing rather than "
                "serving on a state that may have been withdrawn",
                code="decision_state_unavailable",
            )
        error = refuse(self.snapshot, tier)
        if error is not None:
            raise error

    async def start(self) -> Openness:
        """Load the state once (raising if the store cannot be read), then keep it fresh."""
        await asyncio.to_thread(self._refresh)
        self._tasks.append(asyncio.get_running_loop().create_task(self._poll()))
        if self._redis_url:
            self._tasks.append(asyncio.get_running_loop().create_task(self._listen()))
        return self.snapshot

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._engine is not None:
            self._engine.dispose()

    async def _poll(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            self._wake.clear()
            try:
                await asyncio.to_thread(self._refresh)
            except Exception as exc:  # the store is down: keep trying; `check` fails closed
                log.warning("could not refresh the release state: %s", exc)

    async def _listen(self) -> None:
        import redis.asyncio as aioredis

        while True:
            client = aioredis.Redis.from_url(self._redis_url or "", socket_connect_timeout=2)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # polling still runs; retry the subscription
                log.warning("release-state channel unavailable (polling continues): %s", exc)
                await asyncio.sleep(1.0)
            finally:
                await client.aclose()

    def release(self) -> StagedRelease:
        """The staged release of the decision served (the admin routes change it)."""
        return StagedRelease(
            self._sessions, self._audit, self.decision_id, self._tiers, trusted_keys=self._trusted
        )

    def _load(self, session: Session) -> ReleaseState:
        state = load_release_state(session, self.decision_id, self._trusted)
        self._stage = current_stage(session, state.decision_id)
        if self._stage is not None:
            state = replace(state, stage=self._stage.limit(self._tiers))
        return state

    def _rollbacks_due(self, session: Session) -> list[DueRollback]:
        if self._stage is None:
            return []
        requests, failures = self._guard_window()
        return due_rollbacks(session, self._stage, guard_requests=requests, guard_failures=failures)

    def _step_back(self, due: list[DueRollback], now: datetime) -> bool:
        """Roll the staged release back to the furthest stage a due trigger names."""
        stage = self._stage
        if stage is None or not due:
            return False
        first = due[0]
        release = StagedRelease(self._sessions, self._audit, stage.decision_id, self._tiers)
        done = release.rollback(
            first.trigger.to,
            reason=first.reason,
            actor="gateway",
            trigger_id=first.trigger.id,
            details=first.details,
            now=now,
        )
        if done is not None:
            self.rollbacks += 1
            log.warning(
                "staged release rolled back to %s by trigger %s: %s",
                first.trigger.to,
                first.trigger.id,
                first.reason,
            )
        return True

    def _refresh(self) -> None:
        """One poll (on a worker thread): reload on a change, fire due triggers, recompute."""
        now = utcnow()
        with self._sessions() as session:
            version = read_version(session)
            if version != self._version or self._state is None:
                self._state = self._load(session)
                self._version = version
            state = self._state
            in_force = state.verification is not None and state.verification.in_force
            due = due_triggers(session, self.decision_id, state.decision, now) if in_force else []
            rollbacks = self._rollbacks_due(session)
        if self._step_back(
            rollbacks, now
        ):  # the rollback bumped the counter: read the state it left
            with self._sessions() as session:
                self._version = read_version(session)
                self._state = state = self._load(session)
        for spec, reason, details in due:
            fire_trigger(
                self._sessions,
                self._audit,
                self.decision_id,
                trigger_id=spec.id,
                reason=reason,
                actor="gateway",
                details=details,
                now=now,
            )
        if due:  # the firing bumped the counter: read the state it left
            with self._sessions() as session:
                self._version = read_version(session)
                self._state = state = self._load(session)
        self._openness = open_now(state, self._tiers, now)
        self._fresh_at = time.monotonic()
        self.refreshes += 1


def model_metadata(gate: Gate, *, dev: bool, fingerprint: str | None) -> dict[str, Any]:
    """What `/v1/models` says of the release alongside the model entry."""
    meta = gate.snapshot.to_json()
    if fingerprint is not None:
        meta["fingerprint"] = fingerprint
        meta["fingerprint_verified"] = fingerprint.startswith("sha256:")
    if dev:
        meta["reviewed"] = False
        meta["unreviewed"] = "served with --dev: no signed decision binds this gateway"
    return meta


__all__ = ["Gate", "LiveGate", "StaticGate", "model_metadata", "refuse"]
