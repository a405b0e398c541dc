"""Approvals: signers, signed sign-offs, their verification and export, reassessment
triggers, and `open_now` — the one answer to what a release opens right now.

See docs/approvals.md and docs/design/0011-signed-decisions.md.
"""

from releasegate.approvals._allowed import (
    DecisionForbidsServing,
    TierViolation,
    check_tiers,
    enforce_decision,
)
from releasegate.approvals._changes import CHANNEL, announce, read_version
from releasegate.approvals._documents import release_view, write_documents
from releasegate.approvals._export import EXPORT_FILES, VERIFY_SCRIPT, export_files
from releasegate.approvals._keys import Signer, SignerError, all_signers, trusted_keys
from releasegate.approvals._openness import (
    STAYS_PUBLISHED,
    Cap,
    Openness,
    ReleaseState,
    StageLimit,
    TierState,
    load_release_state,
    open_now,
)
from releasegate.approvals._registry import (
    ApprovalError,
    DecisionNotFoundError,
    DecisionRecord,
    DecisionRegistry,
    load_record,
    record_json,
)
from releasegate.approvals._signers import SignerRegistry
from releasegate.approvals._statement import (
    ACTIONS,
    Action,
    SignedStatement,
    Statement,
    decision_sha256,
)
from releasegate.approvals._triggers import (
    FiredTrigger,
    TriggerError,
    due_triggers,
    expiry_due,
    fire_trigger,
    fired_triggers,
)
from releasegate.approvals._verify import (
    CheckedSignature,
    SignoffStatus,
    Verification,
    verify_signoffs,
)

__all__ = [
    "ACTIONS",
    "CHANNEL",
    "EXPORT_FILES",
    "STAYS_PUBLISHED",
    "VERIFY_SCRIPT",
    "Action",
    "ApprovalError",
    "Cap",
    "CheckedSignature",
    "DecisionForbidsServing",
    "DecisionNotFoundError",
    "DecisionRecord",
    "DecisionRegistry",
    "FiredTrigger",
    "Openness",
    "ReleaseState",
    "SignedStatement",
    "Signer",
    "SignerError",
    "SignerRegistry",
    "SignoffStatus",
    "StageLimit",
    "Statement",
    "TierState",
    "TierViolation",
    "TriggerError",
    "Verification",
    "all_signers",
    "announce",
    "check_tiers",
    "decision_sha256",
    "due_triggers",
    "enforce_decision",
    "expiry_due",
    "export_files",
    "fire_trigger",
    "fired_triggers",
    "load_record",
    "load_release_state",
    "open_now",
    "read_version",
    "record_json",
    "release_view",
    "trusted_keys",
    "verify_signoffs",
    "write_documents",
]
