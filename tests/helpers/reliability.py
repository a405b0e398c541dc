"""Sizes of the reliability harness (tests/reliability/): small in `make test` (CI), larger for
`make reliability` with `RELIABILITY_SIZE=large` in the environment. Each test prints one
`reliability:` line with what it tried and found; docs/reliability.md records them."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    fuzz_examples: int  # generated cases per API operation, with valid credentials
    fuzz_unauthenticated: int  # per operation, without or with wrong credentials
    crash_kills: int  # kill -9 cycles under load
    crash_clients: int  # concurrent clients during each cycle
    fleet_clients: int  # concurrent clients against the fleet
    fleet_quota: int  # requests the fleet's quota admits


SIZES = {
    "small": Size("small", 6, 2, 2, 50, 50, 40),
    "large": Size("large", 150, 25, 10, 50, 50, 400),
}


def size() -> Size:
    """The size `RELIABILITY_SIZE` names (default: small)."""
    name = os.environ.get("RELIABILITY_SIZE", "small")
    if name not in SIZES:
        raise ValueError(f"RELIABILITY_SIZE={name!r}: expected one of {', '.join(SIZES)}")
    return SIZES[name]


def report(test: str, **counts: object) -> None:
    """One line for docs/reliability.md (shown by pytest with -s, or in the failure output)."""
    fields = " ".join(f"{k}={v}" for k, v in counts.items())
    print(f"reliability: {test} size={size().name} {fields}")
