"""Intervals of measured proportions, and how many samples would decide one against a cutoff.

A rate (refusals, attack successes, correct answers) gets a Wilson score interval (Wilson 1927;
Brown, Cai & DasGupta 2001 recommend it over the Wald interval for small n and rates near 0 or
1). A worst case over k configurations (the weakest tamper attack, the strongest jailbreak
transform) is a maximum, and the largest of k noisy rates is biased upwards: its interval is
Bonferroni-corrected — each configuration's interval at level 1 − α/k, so that all k cover their
rates together with probability at least 1 − α, and then the worst true rate lies between the
worst lower bound and the worst upper bound. Those per-configuration intervals are exact
(Clopper & Pearson 1934), not Wilson: Bonferroni's guarantee needs each interval's coverage to
hold for every rate, and at 99.4% Wilson's can fall to 90% (docs/design/0017-honest-intervals.md).
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

_MAX_SAMPLES = 10_000_000


def z_value(confidence: float = 0.95, comparisons: int = 1) -> float:
    """The two-sided normal quantile for `confidence`, Bonferroni-corrected over `comparisons`."""
    if not 0 < confidence < 1 or comparisons < 1:
        raise ValueError("confidence must lie in (0, 1) and comparisons be at least 1")
    return NormalDist().inv_cdf(1 - (1 - confidence) / (2 * comparisons))


def wilson_interval(
    successes: float, n: int, *, confidence: float = 0.95, comparisons: int = 1
) -> tuple[float, float] | None:
    """Wilson score interval of a proportion; None without samples.

    Args:
        successes: how many of the n samples scored 1.
        n: the samples.
        confidence: the interval's coverage (per family, with `comparisons`).
        comparisons: Bonferroni: the interval is one of this many that cover together.

    Returns:
        (low, high), within [0, 1].
    """
    if n <= 0:
        return None
    z = z_value(confidence, comparisons)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            step = d * c
            h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _beta_quantile(q: float, a: float, b: float) -> float:
    low, high = 0.0, 1.0
    for _ in range(60):  # bisection: I_x(a, b) increases with x
        middle = (low + high) / 2
        if _betainc(a, b, middle) < q:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def exact_interval(
    successes: float, n: int, *, confidence: float = 0.95, comparisons: int = 1
) -> tuple[float, float] | None:
    """Clopper-Pearson (exact) interval of a proportion; None without samples.

    Its coverage is at least `confidence` for every true rate (Wilson's is only on average).

    Args:
        successes: how many of the n samples scored 1 (rounded to a whole number).
        n: the samples.
        confidence: the interval's coverage (per family, with `comparisons`).
        comparisons: Bonferroni: the interval is one of this many that cover together.
    """
    if n <= 0:
        return None
    return _exact(min(n, max(0, round(successes))), n, confidence, comparisons)


@functools.lru_cache(maxsize=4096)
def _exact(k: int, n: int, confidence: float, comparisons: int) -> tuple[float, float]:
    alpha = (1 - confidence) / comparisons
    low = 0.0 if k == 0 else _beta_quantile(alpha / 2, k, n - k + 1)
    high = 1.0 if k == n else _beta_quantile(1 - alpha / 2, k + 1, n - k)
    return low, high


def worst_case_interval(
    groups: list[tuple[float, int]], direction: str, *, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Interval of the worst of k rates, each given as (successes, n): Bonferroni over k.

    Args:
        groups: each configuration's successes and samples.
        direction: `higher_is_worse` (the worst is the largest rate) or `lower_is_worse`.
        confidence: the family's coverage.

    Returns:
        (worst lower bound, worst upper bound) of exact per-configuration intervals; None when
        no configuration has samples.
    """
    bounds = [
        b
        for s, n in groups
        if (b := exact_interval(s, n, confidence=confidence, comparisons=len(groups)))
    ]
    if not bounds:
        return None
    pick = max if direction == "higher_is_worse" else min
    return pick(b[0] for b in bounds), pick(b[1] for b in bounds)


def _side(value: float, cutoff: float, direction: str) -> bool:
    """Whether `value` has crossed `cutoff` (the policy's reading: `>=` or `<=`)."""
    return value >= cutoff if direction == "higher_is_worse" else value <= cutoff


def decides(low: float, high: float, cutoff: float, direction: str) -> bool:
    """Whether an interval lies wholly on one side of a cutoff (the cutoff does not split it)."""
    return _side(low, cutoff, direction) == _side(high, cutoff, direction)


def wilson_samples_to_decide(
    rate: float,
    cutoff: float,
    direction: str,
    *,
    confidence: float = 0.95,
    comparisons: int = 1,
    exact: bool = False,
) -> int | None:
    """The fewest samples whose Wilson interval around `rate` lies on one side of `cutoff`.

    Assumes the observed rate holds as the sample grows (a planning figure, not a promise).
    With `exact`, the interval is the Clopper-Pearson one (successes rounded to whole numbers,
    so the figure is approximate to a sample or two).

    Returns:
        The sample size, or None when no sample can decide it (the rate sits on the cutoff,
        or it would take more than ten million samples).
    """

    interval = exact_interval if exact else wilson_interval

    def decided(n: int) -> bool:
        bounds = interval(rate * n, n, confidence=confidence, comparisons=comparisons)
        assert bounds is not None
        return decides(bounds[0], bounds[1], cutoff, direction)

    if rate == cutoff:
        return None
    high = 1
    while not decided(high):
        high *= 2
        if high > _MAX_SAMPLES:
            return None
    low = high // 2
    # The interval narrows around the rate as n grows: decided(n) is monotone in n.
    while low + 1 < high:
        middle = (low + high) // 2
        if decided(middle):
            high = middle
        else:
            low = middle
    return high


def scaled_samples_to_decide(
    value: float, low: float, high: float, n: int, cutoff: float
) -> int | None:
    """Samples to decide an interval that is not a Wilson one, by the 1/sqrt(n) rule.

    The half-width on the cutoff's side shrinks as 1/sqrt(n): n·(half/distance)² samples bring
    that bound to the cutoff. None when the value sits on the cutoff, nothing was sampled, or it
    would take more than ten million samples.
    """
    distance = abs(value - cutoff)
    if n <= 0 or distance == 0:
        return None
    half = (high - value) if cutoff > value else (value - low)
    needed = n * (half / distance) ** 2
    return max(1, math.ceil(needed)) if needed <= _MAX_SAMPLES else None


__all__ = [
    "decides",
    "exact_interval",
    "scaled_samples_to_decide",
    "wilson_interval",
    "wilson_samples_to_decide",
    "worst_case_interval",
    "z_value",
]
