"""Benchmark the refusal judges: latency per response, one response at a time.

Responses: every row of the labelled set (both splits: latency does not depend on the label), in
file order. Each judge judges each response ROUNDS times, one call per response, the judges
taking turns in chunks so that drift on a shared machine hits them alike:

  default   the shipped classifier (MiniLM features of the response and its opening, phrase
            features, logistic regression), through `await judge.judge([exchange])`
  phrases   the phrase rule, the baseline

Wall-clock and CPU time (of this thread; the judge runs in it) side by side: on a shared VM,
neighbours inflate wall time, CPU time much less. The goal is ≤ 20 ms per response on CPU.

Usage: python bench/judge.py [--rounds 3] [--limit 0] [--chunk 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time

from releasegate.judge import Exchange, load_judge, read_bundled


async def _run(
    specs: list[str], exchanges: list[Exchange], rounds: int, chunk: int
) -> dict[str, dict[str, list[float]]]:
    judges = {spec: load_judge(spec) for spec in specs}
    for judge in judges.values():  # warm-up: load weights and the encoder, first passes
        await judge.judge(exchanges[:8])
    out: dict[str, dict[str, list[float]]] = {s: {"wall": [], "cpu": []} for s in specs}
    for _ in range(rounds):
        for start in range(0, len(exchanges), chunk):
            for spec, judge in judges.items():
                for exchange in exchanges[start : start + chunk]:
                    w0, c0 = time.perf_counter(), time.thread_time()
                    await judge.judge([exchange])
                    out[spec]["wall"].append((time.perf_counter() - w0) * 1000)
                    out[spec]["cpu"].append((time.thread_time() - c0) * 1000)
    for judge in judges.values():
        await judge.aclose()
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="responses (0: all)")
    parser.add_argument("--chunk", type=int, default=50)
    args = parser.parse_args()
    rows = read_bundled().rows
    exchanges = [Exchange(r.prompt, r.response) for r in rows]
    if args.limit:
        exchanges = exchanges[: args.limit]
    words = [len(e.response.split()) for e in exchanges]
    print(
        f"{platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
        f"{len(exchanges)} responses (median {statistics.median(words):.0f} words, "
        f"max {max(words)}), {args.rounds} rounds"
    )
    results = asyncio.run(_run(["default", "phrases"], exchanges, args.rounds, args.chunk))
    head = ("wall p50", "wall p90", "wall p99", "cpu p50", "cpu p90")
    print(f"{'judge':10} " + " ".join(f"{h:>9}" for h in head) + "  (ms per response)")
    for spec, t in results.items():
        cells = (
            statistics.median(t["wall"]),
            _pct(t["wall"], 0.9),
            _pct(t["wall"], 0.99),
            statistics.median(t["cpu"]),
            _pct(t["cpu"], 0.9),
        )
        print(f"{spec:10} " + " ".join(f"{c:9.2f}" for c in cells))
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
