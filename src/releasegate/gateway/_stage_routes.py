"""The staged-release admin routes: status, promote (with signed sign-offs), rollback.

They call the same `releasegate.stages.StagedRelease` as `releasegate stage ...`; a change
commits with its audit record and the change counter, and is announced on Redis, so every
gateway of the fleet (this one included) follows within a second.
"""

from __future__ import annotations

import asyncio

from releasegate.approvals import announce
from releasegate.gateway._admin import AdminRoute, Outcome
from releasegate.gateway._call import Call
from releasegate.gateway._errors import ApiError
from releasegate.gateway._gate import LiveGate
from releasegate.gateway._stage_models import PromoteRequest, RollbackRequest
from releasegate.gateway._state import Gateway
from releasegate.stages import (
    PromotionRefused,
    SignedStageStatement,
    StagedRelease,
    StageError,
)


def _release(g: Gateway) -> StagedRelease:
    if not isinstance(g.gate, LiveGate):
        raise ApiError(
            409,
            "this gateway serves no stored decision (serve --decision ID), so it has no staged "
            "release",
            code="no_staged_release",
        )
    return g.gate.release()


def _actor(call: Call) -> str:
    """Who moves the stage, as the transition and its audit record name them: the person
    (a principal's id and name), or `admin` for the nameless bootstrap token."""
    principal = call.principal
    if principal is None or principal.person is None:
        return "admin"
    return principal.actor


def _errors(exc: Exception) -> ApiError:
    if isinstance(exc, PromotionRefused):
        unmet = "; ".join(f"{i.item}: {i.evidence}" for i in exc.status.unmet)
        return ApiError(
            409, f"promotion to {exc.status.next_stage!r} refused: {unmet}", code="gate_unmet"
        )
    return ApiError(409, str(exc), code="stage_refused")


def stage_status_route(g: Gateway) -> AdminRoute:
    """The handler of `GET /admin/stage`."""

    def status() -> Outcome:
        release = _release(g)
        data = release.status().to_json()
        data["timeline"] = [t.to_json() for t in release.timeline()]
        return data, {"stage": data["stage"]}

    async def run(call: Call) -> Outcome:
        return await asyncio.to_thread(status)

    return AdminRoute(run)


def stage_promote_route(g: Gateway) -> AdminRoute:
    """The handler of `POST /admin/stage/promote`."""

    def promote(req: PromoteRequest, actor: str) -> Outcome:
        release = _release(g)
        try:
            signoffs = [SignedStageStatement.from_json(s.model_dump()) for s in req.signoffs]
            moved = release.promote(req.to, actor=actor, signoffs=signoffs, reason=req.reason)
        except (StageError, ValueError) as exc:
            if req.signoffs:
                announce(g.settings.redis_url)
            raise _errors(exc) from exc
        announce(g.settings.redis_url)
        return moved.to_json(), {"to": moved.to_stage, "transition": moved.seq}

    async def run(call: Call) -> Outcome:
        assert isinstance(call.parsed, PromoteRequest)
        return await asyncio.to_thread(promote, call.parsed, _actor(call))

    return AdminRoute(run)


def stage_rollback_route(g: Gateway) -> AdminRoute:
    """The handler of `POST /admin/stage/rollback`."""

    def rollback(req: RollbackRequest, actor: str) -> Outcome:
        release = _release(g)
        try:
            moved = release.rollback(req.to, reason=req.reason, actor=actor)
        except StageError as exc:
            raise _errors(exc) from exc
        assert moved is not None
        announce(g.settings.redis_url)
        return moved.to_json(), {"to": moved.to_stage, "transition": moved.seq}

    async def run(call: Call) -> Outcome:
        assert isinstance(call.parsed, RollbackRequest)
        return await asyncio.to_thread(rollback, call.parsed, _actor(call))

    return AdminRoute(run)


__all__ = ["stage_promote_route", "stage_rollback_route", "stage_status_route"]
