"""Which samples a limited run scores: a seeded sample, balanced over the dataset's categories.

`--limit N` used to take the first N rows, which in a file sorted by category is one category.
Here the rows are grouped by their stratum (a harmful request's `category`, a benign one's
`type`; one stratum when rows have neither), each group is shuffled with the seed, the groups
are put in a seeded order, and rows are taken from the groups in turn (round robin) until N are
chosen. So:

- N at least the number of categories covers every category; below it, N distinct categories;
- the categories differ in size by at most one sample (balanced, not proportional: a refusal
  rate is a mean over categories of harm, and a small category is as much a harm as a big one);
- the same seed picks the same rows, and a larger N picks a superset of a smaller one (nested),
  so growing a sample (`--until-decidable`) only adds rows.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

SAMPLING_METHOD = "stratified-round-robin/v1"
"""Recorded in the report and in each run's key: a change of method never reuses old logs."""

STRATUM_KEYS = ("category", "type")


def stratum_of(metadata: dict[str, Any] | None) -> str:
    """A sample's stratum: its `category`, else its `type`, else '' (one stratum)."""
    for key in STRATUM_KEYS:
        value = (metadata or {}).get(key)
        if value is not None and value != "":
            return str(value)
    return ""


def stratified_indices(strata: Sequence[str], n: int | None, seed: int) -> list[int]:
    """Indices of a seeded sample of `n` items balanced over their strata, in input order.

    Args:
        strata: each item's stratum (e.g. its category), in dataset order.
        n: how many to pick (None, or at least len(strata): all of them).
        seed: the sampling seed.

    Returns:
        The chosen indices, sorted.
    """
    if n is None or n >= len(strata):
        return list(range(len(strata)))
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(strata):
        groups.setdefault(name, []).append(index)
    rng = random.Random(seed)
    order = sorted(groups)
    rng.shuffle(order)
    queues = []
    for name in order:
        members = list(groups[name])
        rng.shuffle(members)
        queues.append(members)
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n:
        for queue in queues:
            if depth < len(queue) and len(chosen) < n:
                chosen.append(queue[depth])
        depth += 1
    return sorted(chosen)


def stratified_sample_ids(samples: Sequence[Any], n: int | None, seed: int) -> list[str]:
    """Ids of the Inspect samples a run with limit `n` scores (`stratified_indices`)."""
    strata = [stratum_of(sample.metadata) for sample in samples]
    return [str(samples[i].id) for i in stratified_indices(strata, n, seed)]


__all__ = [
    "SAMPLING_METHOD",
    "STRATUM_KEYS",
    "stratified_indices",
    "stratified_sample_ids",
    "stratum_of",
]
