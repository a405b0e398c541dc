"""Benchmark `releasegate decide`: decisions per second on the default policy, file I/O included.

Stages, each timed per decision (median of ROUNDS rounds of N decisions):
  engine      decide(report, policy) on objects already loaded
  json        + decision_json_bytes
  load        parts of end_to_end: read and validate the report and the policy files
  render      parts of end_to_end: render the five files in memory
  write       parts of end_to_end: write them through a temporary directory (fsync per file)
  end_to_end  load the report file + load the policy file + decide + render all five files +
              write them atomically into a fresh directory (`releasegate decide` without
              process start-up and without the decision store)
  with_store  + record the decision in the SQLite store (`run_decide`, as the CLI does; the
              store lives in a temporary RELEASEGATE_DATA_DIR)

Usage: python bench/decide.py [--n 50] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from releasegate._cli._atomic import write_dir_atomically
from releasegate._cli.decide import _check_ranges, run_decide
from releasegate.evidence import EXAMPLE_REPORTS, example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, decision_json_bytes, load_policy
from releasegate.reports import render_all


def _per_call_ms(fn: Callable[[int], None], n: int, rounds: int) -> tuple[float, float]:
    """Median wall-clock and CPU milliseconds per call (CPU time is what a shared VM's
    neighbours distort least)."""
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            fn(i)
        wall.append((time.perf_counter() - start) / n * 1000)
        cpu.append((time.process_time() - start_cpu) / n * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description="decisions per second on the default policy")
    parser.add_argument("--n", type=int, default=50, help="decisions per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    policy_path = bundled_policy_path("default")
    policy = load_policy(policy_path)
    paths = [example_report_path(name) for name in EXAMPLE_REPORTS]
    reports = [load_report(p) for p in paths]

    def engine(i: int) -> None:
        decide(reports[i % len(reports)], policy)

    def to_json(i: int) -> None:
        decision_json_bytes(decide(reports[i % len(reports)], policy))

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RELEASEGATE_DATA_DIR"] = str(Path(tmp) / "data")
        count = iter(range(10**9))

        def end_to_end(i: int) -> None:
            path = paths[i % len(paths)]
            report = load_report(path)
            loaded = load_policy(policy_path)
            _check_ranges(report, path, loaded)
            decision = decide(report, loaded)
            files = render_all(decision, report, loaded)
            write_dir_atomically(Path(tmp) / f"d{next(count)}", files)

        def with_store(i: int) -> None:
            run_decide(paths[i % len(paths)], policy_path, Path(tmp) / f"d{next(count)}", False)

        decision = decide(reports[0], policy)
        rendered = render_all(decision, reports[0], policy)

        def load(i: int) -> None:
            load_report(paths[i % len(paths)])
            load_policy(policy_path)

        def render(i: int) -> None:
            render_all(decision, reports[0], policy)

        def write(i: int) -> None:
            write_dir_atomically(Path(tmp) / f"d{next(count)}", rendered)

        end_to_end(0)  # warm the template cache, like any run after the first
        with_store(0)  # create the store's schema once
        results = {
            "engine": _per_call_ms(engine, args.n, args.rounds),
            "json": _per_call_ms(to_json, args.n, args.rounds),
            "load": _per_call_ms(load, args.n, args.rounds),
            "render": _per_call_ms(render, args.n, args.rounds),
            "write": _per_call_ms(write, args.n, args.rounds),
            "end_to_end": _per_call_ms(end_to_end, args.n, args.rounds),
            "with_store": _per_call_ms(with_store, args.n, args.rounds),
        }

    load_avg = os.getloadavg()[0]
    print(
        f"load average {load_avg:.1f} on {os.cpu_count()} CPUs; "
        f"python {platform.python_version()} on {platform.machine()}, {args.rounds} rounds "
        f"of {args.n} decisions over the {len(paths)} example reports, default policy"
    )
    print("| stage | wall ms/decision | decisions/s | CPU ms/decision | wall × engine |")
    print("|---|---:|---:|---:|---:|")
    engine_ms = results["engine"][0]
    for stage, (ms, cpu) in results.items():
        print(f"| {stage} | {ms:.2f} | {1000 / ms:.0f} | {cpu:.2f} | {ms / engine_ms:.1f} |")
    goal = 50.0
    verdict = "meets" if results["end_to_end"][0] < goal else "MISSES"
    print(f"end_to_end {verdict} the goal of < {goal:.0f} ms per decision (wall clock)")


if __name__ == "__main__":
    main()
