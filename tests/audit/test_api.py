import releasegate.audit


def test_public_names() -> None:
    assert set(releasegate.audit.__all__) == {
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
    }
    for name in releasegate.audit.__all__:
        assert hasattr(releasegate.audit, name)
