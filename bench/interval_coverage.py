"""Worst-case miss probability of Wilson and exact intervals, exactly from the binomial.

Usage: python bench/interval_coverage.py  (a few seconds; needs scipy, a dev dependency)

For each level (95%, and 1 - 0.05/k for the Bonferroni levels of k = 6 and 8 configurations),
the largest probability, over n in {4, ..., 160} and every rate on a 0.005 grid, that the
interval misses the true rate. docs/design/0017-honest-intervals.md quotes the output.
"""

from __future__ import annotations

from scipy import stats

from releasegate.evidence import wilson_interval
from releasegate.evidence._intervals import exact_interval

SIZES = (4, 8, 10, 20, 30, 50, 100, 160)
RATES = [i / 200 for i in range(1, 200)]


def worst_miss(confidence: float, interval: str) -> float:
    worst = 0.0
    for n in SIZES:
        bounds = []
        for k in range(n + 1):
            if interval == "wilson":
                b = wilson_interval(k, n, confidence=confidence)
            else:
                b = exact_interval(k, n, confidence=confidence)
            assert b is not None
            bounds.append(b)
        for p in RATES:
            pmf = stats.binom.pmf(range(n + 1), n, p)
            pairs = zip(bounds, pmf, strict=True)
            miss = sum(q for (low, high), q in pairs if not low <= p <= high)
            worst = max(worst, float(miss))
    return worst


def main() -> None:
    print("level      nominal miss  wilson worst miss  exact worst miss")
    for label, confidence in (("95%", 0.95), ("k=6", 1 - 0.05 / 6), ("k=8", 1 - 0.05 / 8)):
        wilson = worst_miss(confidence, "wilson")
        exact = worst_miss(confidence, "exact")
        print(f"{label:<10} {1 - confidence:>12.4f}  {wilson:>17.4f}  {exact:>16.4f}")


if __name__ == "__main__":
    main()
