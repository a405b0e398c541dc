"""Benchmark the audit log: append latency, group-commit throughput and verify speed.

For each store (a SQLite file; PostgreSQL when reachable), in one run:
  sync        `AuditLog.append`, one transaction per record, sequential: p50 / p99 ms
  async       `await append_async`, sequential (one request at a time): p50 / p99 ms
  per-record  C concurrent tasks, each append its own transaction (sync append on a thread
              pool of C threads, the naive design): records/s
  group       C concurrent tasks through the group-commit writer: records/s, records/transaction
  verify      `AuditLog.verify` over everything written: records/s

Usage: python bench/audit.py [--n 400] [--concurrency 64] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from releasegate.audit import AuditLog, AuditWriter
from releasegate.store import make_engine, make_session_factory, upgrade

PAYLOAD = {
    "request_id": "req-0123456789",
    "route": "/v1/chat/completions",
    "status": 200,
    "tier": "developer",
    "tokens": 182,
    "latency_ms": 12.5,
}
CONTENT = {
    "prompt": [{"role": "user", "content": "Summarise this paragraph. " * 8}],
    "output": "ok",
}


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


@contextmanager
def _postgres(admin_url: str) -> Iterator[str]:
    import psycopg

    dsn = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"rg_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, n: int, concurrency: int) -> dict[str, float]:
    engine = make_engine(url)
    upgrade(engine)
    log = AuditLog(make_session_factory(engine), b"bench-key" * 4)
    out: dict[str, float] = {}

    for _ in range(20):
        log.append("request", "key_bench", PAYLOAD, CONTENT)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        log.append("request", "key_bench", PAYLOAD, CONTENT)
        lat.append(time.perf_counter() - t)
    out["sync_p50"], out["sync_p99"] = _pct(lat, 0.5), _pct(lat, 0.99)

    async def sequential() -> list[float]:
        lat = []
        writer = AuditWriter(log)
        for _ in range(n):
            t = time.perf_counter()
            await writer.append_async("request", "key_bench", PAYLOAD, CONTENT)
            lat.append(time.perf_counter() - t)
        await writer.aclose()
        return lat

    lat = asyncio.run(sequential())
    out["async_p50"], out["async_p99"] = _pct(lat, 0.5), _pct(lat, 0.99)

    total = n * 2

    async def per_record() -> float:
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(max_workers=concurrency)
        queue = list(range(total))

        async def worker() -> None:
            while queue:
                queue.pop()
                await loop.run_in_executor(
                    pool, log.append, "request", "key_bench", PAYLOAD, CONTENT
                )

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        pool.shutdown()
        return total / (time.perf_counter() - t)

    out["per_record_rps"] = asyncio.run(per_record())

    async def grouped() -> tuple[float, float]:
        writer = AuditWriter(log)
        queue = list(range(total))

        async def worker() -> None:
            while queue:
                queue.pop()
                await writer.append("request", "key_bench", PAYLOAD, CONTENT)

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        rate = total / (time.perf_counter() - t)
        await writer.aclose()
        return rate, writer.records / writer.batches

    out["group_rps"], out["group_batch"] = asyncio.run(grouped())

    t = time.perf_counter()
    result = log.verify()
    assert result.ok, result.reason
    out["verify_rps"] = result.checked / (time.perf_counter() - t)
    out["records"] = result.checked
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "RELEASEGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="admin URL of a PostgreSQL server (a throwaway database is created); '' to skip",
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()},"
        f" load average {os.getloadavg()[0]:.1f}; n={args.n}, concurrency={args.concurrency}"
    )
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite (WAL)"] = run(f"sqlite:///{tmp}/bench.db", args.n, args.concurrency)
    if args.postgres:
        with _postgres(args.postgres) as url:
            results["PostgreSQL"] = run(url, args.n, args.concurrency)
    print(
        "| store | sync p50 / p99 ms | async p50 / p99 ms | per-record txn rec/s "
        "| group commit rec/s | group ÷ per-record | rec per txn | verify rec/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['sync_p50']:.2f} / {r['sync_p99']:.2f} "
            f"| {r['async_p50']:.2f} / {r['async_p99']:.2f} | {r['per_record_rps']:.0f} "
            f"| {r['group_rps']:.0f} | {r['group_rps'] / r['per_record_rps']:.1f}× "
            f"| {r['group_batch']:.1f} | {r['verify_rps']:.0f} |"
        )


if __name__ == "__main__":
    main()
