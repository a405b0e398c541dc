"""Uncertainty of the measured numbers: binomial standard errors and bootstrap intervals.

Marginal risk (Kapoor et al. 2024) is an uplift — subject minus baseline on the same items —
so its interval comes from a paired percentile bootstrap (Efron & Tibshirani 1993): resample
items with replacement, recompute both means on the same resample. When the two runs scored
different items (different limits), the two sides are resampled independently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_RESAMPLES = 10_000


def mean_stderr(scores: Sequence[float]) -> float | None:
    """Standard error of a mean (None for fewer than two scores)."""
    n = len(scores)
    if n < 2:
        return None
    values = np.asarray(scores, dtype=np.float64)
    return float(values.std(ddof=1) / math.sqrt(n))


def bootstrap_uplift_ci(
    subject: Sequence[float],
    baseline: Sequence[float],
    *,
    paired: bool = True,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(subject) - mean(baseline).

    Args:
        subject: per-item scores of the assessed model.
        baseline: per-item scores of the baseline model (same order when `paired`).
        paired: resample item indices jointly (same items on both sides).
        resamples: bootstrap resamples.
        confidence: coverage of the interval.
        seed: RNG seed (same inputs and seed give the same interval).

    Returns:
        (low, high).
    """
    x = np.asarray(subject, dtype=np.float64)
    y = np.asarray(baseline, dtype=np.float64)
    if x.size == 0 or y.size == 0:
        raise ValueError("bootstrap needs at least one score on each side")
    if paired and x.size != y.size:
        raise ValueError("paired bootstrap needs the same items on both sides")
    rng = np.random.default_rng(seed)
    if paired:
        idx = rng.integers(0, x.size, size=(resamples, x.size))
        diffs = x[idx].mean(axis=1) - y[idx].mean(axis=1)
    else:
        ix = rng.integers(0, x.size, size=(resamples, x.size))
        iy = rng.integers(0, y.size, size=(resamples, y.size))
        diffs = x[ix].mean(axis=1) - y[iy].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    return float(low), float(high)


__all__ = ["DEFAULT_RESAMPLES", "bootstrap_uplift_ci", "mean_stderr"]
