"""Wilson intervals, the Bonferroni interval of a worst case, and samples needed to decide."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from releasegate.evidence import (
    scaled_samples_to_decide,
    wilson_interval,
    wilson_samples_to_decide,
    worst_case_interval,
)
from releasegate.evidence._intervals import decides, exact_interval


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 4), (7, 7), (40, 120), (1, 300)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    bounds = wilson_interval(k, n)
    assert bounds is not None
    assert bounds == pytest.approx((ci.low, ci.high), abs=1e-12)
    wide = wilson_interval(k, n, comparisons=6)
    exact = stats.binomtest(k, n).proportion_ci(confidence_level=1 - 0.05 / 6, method="wilson")
    assert wide == pytest.approx((exact.low, exact.high), abs=1e-12)
    assert wilson_interval(k, 0) is None
    cp = stats.binomtest(k, n).proportion_ci(confidence_level=1 - 0.05 / 6, method="exact")
    assert exact_interval(k, n, comparisons=6) == pytest.approx((cp.low, cp.high), abs=1e-9)


def test_the_worst_case_interval_covers_the_worst_rate_and_the_naive_one_does_not() -> None:
    # Eight configurations with the same true attack success rate: the largest observed rate
    # is biased upwards, so the plain interval of the maximum misses the true maximum far more
    # often than 5% of the time; the Bonferroni one (exact intervals at 1 - 0.05/8) covers it
    # at least 95% of the time. (With Wilson intervals at 1 - 0.05/8 it missed 8.9% here.)
    rng = np.random.default_rng(0)
    k, n, p, trials = 8, 30, 0.2, 2000
    naive_miss = bonferroni_miss = 0
    for _ in range(trials):
        hits = rng.binomial(n, p, size=k)
        worst = int(hits.max())
        naive = wilson_interval(worst, n)
        assert naive is not None
        naive_miss += not naive[0] <= p <= naive[1]
        low, high = worst_case_interval([(int(h), n) for h in hits], "higher_is_worse") or (0, 0)
        bonferroni_miss += not low <= p <= high
    assert naive_miss / trials > 0.10
    assert bonferroni_miss / trials <= 0.05


def test_worst_case_of_a_minimum_takes_the_lowest_bounds() -> None:
    groups = [(9, 10), (4, 10), (7, 10)]
    low, high = worst_case_interval(groups, "lower_is_worse") or (0, 0)
    each = [exact_interval(s, n, comparisons=3) for s, n in groups]
    assert low == min(b[0] for b in each if b) and high == min(b[1] for b in each if b)
    assert low <= 0.4 <= high


@pytest.mark.parametrize(
    ("rate", "cutoff", "direction", "k"),
    [
        (0.5, 0.3, "higher_is_worse", 1),
        (0.02, 0.05, "higher_is_worse", 8),
        (0.97, 0.93, "lower_is_worse", 1),
        (0.0, 0.10, "higher_is_worse", 1),
    ],
)
def test_samples_to_decide_is_the_smallest_sample_that_decides(
    rate: float, cutoff: float, direction: str, k: int
) -> None:
    n = wilson_samples_to_decide(rate, cutoff, direction, comparisons=k)
    assert n is not None

    def decided(m: int) -> bool:
        bounds = wilson_interval(rate * m, m, comparisons=k)
        assert bounds is not None
        return decides(bounds[0], bounds[1], cutoff, direction)

    assert decided(n) and decided(n + 7)
    assert n == 1 or not decided(n - 1)


def test_exact_samples_to_decide_a_worst_case() -> None:
    n = wilson_samples_to_decide(0.85, 0.80, "lower_is_worse", comparisons=6, exact=True)
    assert n is not None
    low, high = exact_interval(round(0.85 * n), n, comparisons=6) or (0, 0)
    assert decides(low, high, 0.80, "lower_is_worse")
    wilson = wilson_samples_to_decide(0.85, 0.80, "lower_is_worse", comparisons=6)
    assert wilson is not None and n >= wilson * 0.9  # exact is the wider: it needs as many


def test_a_rate_on_its_cutoff_cannot_be_decided() -> None:
    assert wilson_samples_to_decide(0.9, 0.9, "lower_is_worse") is None
    assert scaled_samples_to_decide(0.4, 0.3, 0.5, 100, 0.4) is None
    # The 1/sqrt(n) rule: halving the distance to the cutoff takes four times the samples.
    assert scaled_samples_to_decide(0.5, 0.4, 0.6, 100, 0.45) == 400
