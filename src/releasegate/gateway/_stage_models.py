"""Request and response bodies of the staged-release admin routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from releasegate._util.wire import NonEmptyText, Text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class StageStatementBody(_Strict):
    """A promotion statement as signed (`releasegate.stages.StageStatement.to_json()`)."""

    type: Text
    action: Text
    decision_id: Text
    plan_sha256: Text
    from_stage: Text
    entry_seq: Text
    to_stage: Text
    role: Text
    signer: Text
    key_id: Text
    signed_at: Text


class SignedStageBody(_Strict):
    """A promotion sign-off made where the signer's key is (`releasegate.stages.sign_stage`)."""

    statement: StageStatementBody
    signature: NonEmptyText = Field(description="Ed25519 signature, base64")


class PromoteRequest(_Strict):
    """`POST /admin/stage/promote`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"to": "named_users", "reason": "gate met", "signoffs": []}]
        }
    )

    to: NonEmptyText = Field(description="the next stage")
    reason: Text = ""
    signoffs: list[SignedStageBody] = Field(
        default_factory=list, description="signed sign-offs to record first"
    )


class RollbackRequest(_Strict):
    """`POST /admin/stage/rollback`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"to": "red_team", "reason": "incident under review"}]}
    )

    to: NonEmptyText = Field(description="an earlier stage")
    reason: NonEmptyText = Field(description="why (recorded and shown to refused keys)")


class StageTransitionOut(BaseModel):
    """One stage transition (an audit record names it by `audit_seq`)."""

    seq: int
    kind: str
    from_: str | None = Field(alias="from")
    to: str
    reason: str
    actor: str
    at: str
    audit_seq: int
    trigger: str | None
    details: dict[str, Any]


class GateItemOut(BaseModel):
    item: str
    requirement: str
    met: bool
    evidence: str
    details: dict[str, Any]


class StageStatusOut(BaseModel):
    """`GET /admin/stage`: the stage in force, the time in it, and the next gate's items."""

    decision: str
    plan: dict[str, Any] | None
    stage: str | None
    stages: list[str]
    entered: StageTransitionOut | None
    time_in_stage_s: float | None
    tiers_open: list[str]
    next: str | None
    ready: bool
    gate: list[GateItemOut]
    timeline: list[StageTransitionOut]


__all__ = [
    "GateItemOut",
    "PromoteRequest",
    "RollbackRequest",
    "SignedStageBody",
    "StageStatusOut",
    "StageTransitionOut",
]
