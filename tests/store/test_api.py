import releasegate.store


def test_public_names() -> None:
    assert set(releasegate.store.__all__) == {
        "Base",
        "UTCDateTime",
        "current_revision",
        "downgrade",
        "ensure_schema",
        "head_revision",
        "make_engine",
        "make_session_factory",
        "open_store",
        "upgrade",
        "utcnow",
    }
    for name in releasegate.store.__all__:
        assert hasattr(releasegate.store, name)
