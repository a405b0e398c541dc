"""Release policies and the decision engine: `load_policy`, `decide`, `Decision`."""

from releasegate.policy._alternatives import CATALOGUE, choose_alternatives
from releasegate.policy._canonical import (
    canonical_json_bytes,
    decision_content_sha256,
    decision_json_bytes,
    model_sha256,
)
from releasegate.policy._decision import (
    Alternative,
    Decision,
    DecisionStatus,
    DomainAssessment,
    IndicatorReading,
    ReassessmentTrigger,
    RuleTrace,
    SignoffRequirement,
)
from releasegate.policy._engine import check_report, decide
from releasegate.policy._load import (
    BUNDLED_POLICIES,
    bundled_policy_path,
    check_policy,
    load_policy,
    parse_policy,
)
from releasegate.policy._model import (
    AllWhen,
    AnyWhen,
    Domain,
    Indicator,
    MetricSpec,
    MetricWhen,
    Precaution,
    ReleasePolicy,
    Rule,
    Signoff,
    Then,
    TierWhen,
    Trigger,
    TriggerKind,
)
from releasegate.policy._schemas import SCHEMAS, schema_text
from releasegate.policy._standing import ReleaseView, SignatureLine, StageLine, TierLine

__all__ = [
    "BUNDLED_POLICIES",
    "CATALOGUE",
    "SCHEMAS",
    "AllWhen",
    "Alternative",
    "AnyWhen",
    "Decision",
    "DecisionStatus",
    "Domain",
    "DomainAssessment",
    "Indicator",
    "IndicatorReading",
    "MetricSpec",
    "MetricWhen",
    "Precaution",
    "ReassessmentTrigger",
    "ReleasePolicy",
    "ReleaseView",
    "Rule",
    "RuleTrace",
    "SignatureLine",
    "Signoff",
    "SignoffRequirement",
    "StageLine",
    "Then",
    "TierLine",
    "TierWhen",
    "Trigger",
    "TriggerKind",
    "bundled_policy_path",
    "canonical_json_bytes",
    "check_policy",
    "check_report",
    "choose_alternatives",
    "decide",
    "decision_content_sha256",
    "decision_json_bytes",
    "load_policy",
    "model_sha256",
    "parse_policy",
    "schema_text",
]
