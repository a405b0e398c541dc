import releasegate.audit


def test_public_names() -> None:
    assert set(releasegate.audit.__all__) == {
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
    }
    for name in releasegate.audit.__all__:
        assert hasattr(releasegate.audit, name)
