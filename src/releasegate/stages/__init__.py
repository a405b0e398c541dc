"""Staged release: a `StagePlan` of stages behind gates, promotion with signed sign-offs and
fresh evidence, rollback by hand or by trigger, and the stage that `open_now` enforces.

See docs/stages.md and docs/design/0016-staged-release.md.
"""

from releasegate.stages._load import (
    BUNDLED_PLANS,
    bundled_plan_path,
    check_against_decision,
    check_structure,
    load_plan,
    parse_plan,
    stage_excess,
)
from releasegate.stages._model import (
    EvidenceIndicator,
    EvidenceRequirement,
    Gate,
    RollbackTrigger,
    Stage,
    StagePlan,
    plan_schema_text,
)
from releasegate.stages._release import (
    CurrentStage,
    DueRollback,
    Evidence,
    GateItem,
    PromotionRefused,
    StagedRelease,
    StageError,
    StageStatus,
    Transition,
    current_stage,
    due_rollbacks,
    fire_rollback,
    latest_evidence,
    plan_sha256,
    stage_limit,
    started_tiers,
    timeline,
)
from releasegate.stages._signoff import (
    STAGE_STATEMENT_TYPE,
    SignedStageStatement,
    StageStatement,
    check_stage_signature,
    sign_stage,
)

__all__ = [
    "BUNDLED_PLANS",
    "STAGE_STATEMENT_TYPE",
    "CurrentStage",
    "DueRollback",
    "Evidence",
    "EvidenceIndicator",
    "EvidenceRequirement",
    "Gate",
    "GateItem",
    "PromotionRefused",
    "RollbackTrigger",
    "SignedStageStatement",
    "Stage",
    "StageError",
    "StagePlan",
    "StageStatement",
    "StageStatus",
    "StagedRelease",
    "Transition",
    "bundled_plan_path",
    "check_against_decision",
    "check_stage_signature",
    "check_structure",
    "current_stage",
    "due_rollbacks",
    "fire_rollback",
    "latest_evidence",
    "load_plan",
    "parse_plan",
    "plan_schema_text",
    "plan_sha256",
    "sign_stage",
    "stage_excess",
    "stage_limit",
    "started_tiers",
    "timeline",
]
