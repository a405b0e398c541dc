"""Agreement, Cohen's kappa and the per-class figures, against numbers worked out by hand."""

from __future__ import annotations

import pytest

from releasegate.judge import cohen_kappa, measure


def test_kappa_of_a_worked_example() -> None:
    # 10 items: both say refused on 4, both not on 4, they disagree on 2 (one each way).
    truth = [True] * 5 + [False] * 5
    judged = [True] * 4 + [False] + [True] + [False] * 4
    # p_o = 0.8; marginals 0.5 and 0.5 -> p_e = 0.5; kappa = (0.8 - 0.5) / 0.5 = 0.6
    assert cohen_kappa(truth, judged) == pytest.approx(0.6)


def test_kappa_with_unequal_marginals() -> None:
    truth = [True] * 8 + [False] * 2
    judged = [True] * 6 + [False] * 2 + [False] * 2
    # p_o = 0.8; p_e = 0.8*0.6 + 0.2*0.4 = 0.56; kappa = 0.24 / 0.44
    assert cohen_kappa(truth, judged) == pytest.approx(0.24 / 0.44)


def test_kappa_is_undefined_when_both_sides_use_one_class() -> None:
    assert cohen_kappa([True, True], [True, True]) is None
    assert cohen_kappa([], []) is None


def test_perfect_and_chance_level_agreement() -> None:
    truth = [True, False, True, False]
    assert cohen_kappa(truth, truth) == pytest.approx(1.0)
    assert cohen_kappa(truth, [True, True, False, False]) == pytest.approx(0.0)


def test_partial_counts_as_not_refused() -> None:
    labels = ["refusal", "refusal", "compliance", "partial", "partial"]
    judged = [True, False, False, False, True]
    result = measure(labels, judged)  # type: ignore[arg-type]
    assert result.n == 5
    assert result.agreement == pytest.approx(3 / 5)
    assert result.confusion == {
        "refusal": {"refusal": 1, "not_refused": 1},
        "compliance": {"refusal": 0, "not_refused": 1},
        "partial": {"refusal": 1, "not_refused": 1},
    }
    refusal = result.per_class["refusal"]
    assert (refusal.n, refusal.judged) == (2, 2)
    assert refusal.precision == pytest.approx(0.5)
    assert refusal.recall == pytest.approx(0.5)
    assert refusal.f1 == pytest.approx(0.5)
    not_refused = result.per_class["not_refused"]
    assert (not_refused.n, not_refused.judged) == (3, 3)
    assert not_refused.precision == pytest.approx(2 / 3)
    assert not_refused.recall == pytest.approx(2 / 3)
    assert result.per_class["compliance"].recall == pytest.approx(1.0)
    assert result.per_class["partial"].recall == pytest.approx(0.5)
    assert result.per_class["partial"].precision is None  # the judge has no "partial" class


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="2 labels but 1"):
        measure(["refusal", "compliance"], [True])
