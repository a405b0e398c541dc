"""Benchmark how long `releasegate serve --dev --model echo:` takes to answer, from a cold start.

Each round starts the CLI in a fresh data directory (so the store is created and migrated, as
for a first-time user) and polls `GET /v1/models` until the gateway answers (any HTTP status:
the dev gateway still wants a key, and a 401 proves it is listening and routing). The goal in
issue 20 is under 2 s on the project's 2-core machines. The process is then stopped and the next
round starts; the median and the spread are printed.

Usage: python bench/serve_start.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_start(timeout_s: float = 60.0) -> float:
    """Seconds from spawning `serve` to its first HTTP answer."""
    exe = Path(sys.executable).parent / "releasegate"
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RELEASEGATE_DATA_DIR": str(Path(tmp) / "data")}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(exe), "serve", "--dev", "--model", "echo:", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.perf_counter() - started < timeout_s:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1.0)
                    return time.perf_counter() - started
                except httpx.TransportError:
                    time.sleep(0.01)
            raise RuntimeError(f"serve did not answer within {timeout_s} s")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    times = [one_start() for _ in range(args.rounds)]
    load = os.getloadavg()[0]
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load:.2f}")
    print(
        f"serve --dev --model echo: first answer after {statistics.median(times):.2f} s median "
        f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} cold starts)"
    )


if __name__ == "__main__":
    main()
