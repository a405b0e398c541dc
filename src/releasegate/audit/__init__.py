"""Audit: the hash-chained, HMAC-signed, append-only log of requests and admin actions.

`AuditLog.append` (sync) and `await AuditLog.append_async` (group commit) return only once the
record is committed; `verify` names the first record that was edited, deleted or reordered;
`export` writes JSON Lines. See docs/audit.md and docs/design/0004-audit-chain.md.
"""

from releasegate.audit._chain import (
    GENESIS_HASH,
    AuditRecord,
    VerifyResult,
    canonical_json,
    content_sha256,
    record_hash,
    record_hmac,
)
from releasegate.audit._log import AuditLog, PendingEntry, StoreContent, verify_jsonl
from releasegate.audit._settings import audit_log_from_settings, resolve_audit_hmac_key
from releasegate.audit._sink import AuditSink
from releasegate.audit._writer import AuditWriter

__all__ = [
    "GENESIS_HASH",
    "AuditLog",
    "AuditRecord",
    "AuditSink",
    "AuditWriter",
    "PendingEntry",
    "StoreContent",
    "VerifyResult",
    "audit_log_from_settings",
    "canonical_json",
    "content_sha256",
    "record_hash",
    "record_hmac",
    "resolve_audit_hmac_key",
    "verify_jsonl",
]
