import pytest

from releasegate.vocab import AccessLevel, Tier


def test_access_levels_are_ordered_by_rank() -> None:
    ranks = [level.rank for level in AccessLevel]
    assert ranks == list(range(7))
    assert AccessLevel.API < AccessLevel.RESEARCH_API < AccessLevel.GATED_WEIGHTS
    # Alphabetically "api" < "closed"; by rank closed comes first.
    assert AccessLevel.CLOSED < AccessLevel.API
    assert (
        max(AccessLevel.HOSTED, AccessLevel.FULLY_OPEN, AccessLevel.CLOSED)
        is AccessLevel.FULLY_OPEN
    )


def test_tiers_are_ordered() -> None:
    assert sorted([Tier.CRITICAL, Tier.LOW, Tier.HIGH, Tier.MEDIUM]) == [
        Tier.LOW,
        Tier.MEDIUM,
        Tier.HIGH,
        Tier.CRITICAL,
    ]


def test_weights_leave_developer_from_gated_weights_up() -> None:
    assert [lvl.weights_leave_developer for lvl in AccessLevel] == [False] * 4 + [True] * 3


def test_cannot_compare_levels_with_tiers() -> None:
    with pytest.raises(TypeError):
        _ = AccessLevel.API < Tier.LOW  # type: ignore[operator]
