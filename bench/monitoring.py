"""Misuse monitoring and metrics: what they add to each request.

    python bench/monitoring.py [--n 20000] [--redis redis://127.0.0.1:6379/0]

- observer, unflagged request: the pipeline observer (metrics only: one counter, one histogram)
  for a request no guard flagged, the common case, in µs per request;
- observer, flagged request: the same plus counting the flag (memory counter) — the key is
  reset before each crossing, so no incident is opened;
- flag counter `add`: memory vs Redis (one Lua script round trip on loopback), p50 / p99;
- `/metrics` render with the registry filled by the runs above.

Medians over 3 rounds, printed as Markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from releasegate.access import DEFAULT_TIERS
from releasegate.gateway._monitoring import MonitorObserver
from releasegate.guards import GuardVerdict, HazardCategory
from releasegate.monitoring import (
    FlagCounter,
    FlagEvent,
    GatewayMetrics,
    IncidentStore,
    MemoryFlagCounter,
    MisuseMonitor,
    RedisFlagCounter,
)

TIER = DEFAULT_TIERS["public"].model_copy(update={"flag_threshold": 10**9})


def _call(flagged: bool, seq: int) -> Any:
    verdict = GuardVerdict(flagged=True, score=1.0, categories=[HazardCategory.S9], guard="keyword")
    return SimpleNamespace(
        principal=SimpleNamespace(tier=TIER, id="key_bench"),
        input_verdict=verdict if flagged else None,
        output_verdicts=[],
        audit_seqs=[seq],
        route="chat.completions",
        status=400 if flagged else 200,
        error_code="content_filter" if flagged else None,
        started=time.perf_counter(),
    )


async def _observer_us(observer: MonitorObserver, flagged: bool, n: int) -> float:
    calls = [_call(flagged, i) for i in range(n)]
    start = time.perf_counter()
    for call in calls:
        await observer(call)
    elapsed = time.perf_counter() - start
    await observer.monitor.counter.reset("key_bench")
    return elapsed / n * 1e6


async def _add_latencies(counter: FlagCounter, n: int) -> list[float]:
    out: list[float] = []
    key = f"key_{uuid.uuid4().hex[:8]}"
    for i in range(n):
        start = time.perf_counter()
        await counter.add(key, FlagEvent(i, time.time(), ("S9",)), threshold=10**9, window_s=60)
        out.append((time.perf_counter() - start) * 1e6)
    await counter.reset(key)
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(n: int, redis_url: str | None) -> None:
    metrics = GatewayMetrics()
    # the incident store is never reached: the threshold is never crossed
    monitor = MisuseMonitor(MemoryFlagCounter(), IncidentStore.__new__(IncidentStore))
    observer = MonitorObserver(monitor, metrics)
    rows: dict[str, list[float]] = {"unflagged": [], "flagged": [], "render": []}
    adds: dict[str, list[tuple[float, float]]] = {"memory": [], "redis": []}
    for _ in range(3):
        rows["unflagged"].append(await _observer_us(observer, False, n))
        rows["flagged"].append(await _observer_us(observer, True, n))
        start = time.perf_counter()
        metrics.render()
        rows["render"].append((time.perf_counter() - start) * 1e6)
        counters: list[tuple[str, FlagCounter]] = [("memory", MemoryFlagCounter())]
        if redis_url:
            counters.append(("redis", RedisFlagCounter(redis_url, prefix="rg-bench")))
        for name, counter in counters:
            lat = await _add_latencies(counter, min(n, 5000))
            adds[name].append((statistics.median(lat), _pct(lat, 0.99)))
            await counter.aclose()
    med = statistics.median
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}; {datetime.now(UTC):%Y-%m-%d}; n={n}, 3 rounds (medians)"
    )
    print()
    print("| what | µs |")
    print("|---|---|")
    print(f"| observer, unflagged request (metrics only) | {med(rows['unflagged']):.2f} |")
    print(f"| observer, flagged request (metrics + memory counter) | {med(rows['flagged']):.2f} |")
    print(f"| `/metrics` render | {med(rows['render']):.0f} |")
    for name, values in adds.items():
        if values:
            p50 = med(v[0] for v in values)
            p99 = med(v[1] for v in values)
            print(f"| flag counter add, {name}: p50 / p99 | {p50:.1f} / {p99:.1f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--redis", default=None, help="Redis URL for the shared counter")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.redis))
