import releasegate.access


def test_public_names_include_the_key_store() -> None:
    # Other engineers add to releasegate.access; these are the key store's names.
    assert {
        "DEFAULT_TIERS",
        "CreatedKey",
        "KeyLimits",
        "KeyLimitsError",
        "KeyNotFoundError",
        "KeyRecord",
        "KeyStore",
        "TierSpec",
        "check_limits",
        "hash_key",
    } <= set(releasegate.access.__all__)
    for name in releasegate.access.__all__:
        assert hasattr(releasegate.access, name)
