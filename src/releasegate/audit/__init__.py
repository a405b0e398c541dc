"""Audit: the hash-chained, HMAC-signed, append-only log of requests and admin actions.

A synchronous core, `AuditLog`: `append` returns once the record is committed; `verify` names
the first record that was edited, deleted, reordered or cut off the end (against the signed
checkpoints); `export` writes JSON Lines ending in a signed checkpoint. The async gateway appends
through `AuditWriter` (group commit, an `AuditSink`), which calls the same core. See
docs/audit.md, docs/security.md and docs/design/0004-audit-chain.md.
"""

from releasegate.audit._chain import (
    GENESIS_HASH,
    AuditRecord,
    JsonValue,
    StrictJsonError,
    VerifyResult,
    canonical_json,
    content_sha256,
    record_hash,
    record_hmac,
    strict_loads,
)
from releasegate.audit._checkpoint import Checkpoint
from releasegate.audit._checkpointer import Checkpointer
from releasegate.audit._log import (
    AuditKeyMismatch,
    AuditLog,
    PendingEntry,
    StoreContent,
    verify_jsonl,
)
from releasegate.audit._settings import (
    audit_log_from_settings,
    checkpoint_signing_key,
    key_dir,
    resolve_audit_hmac_key,
)
from releasegate.audit._sink import AuditSink
from releasegate.audit._writer import AuditWriter

__all__ = [
    "GENESIS_HASH",
    "AuditKeyMismatch",
    "AuditLog",
    "AuditRecord",
    "AuditSink",
    "AuditWriter",
    "Checkpoint",
    "Checkpointer",
    "JsonValue",
    "PendingEntry",
    "StoreContent",
    "StrictJsonError",
    "VerifyResult",
    "audit_log_from_settings",
    "canonical_json",
    "checkpoint_signing_key",
    "content_sha256",
    "key_dir",
    "record_hash",
    "record_hmac",
    "resolve_audit_hmac_key",
    "strict_loads",
    "verify_jsonl",
]
