"""Does the quick start fit a laptop? Wall time and peak memory of `make demo` and of `serve`.

    python bench/laptop.py [--install] [--demo] [--serve] [--out results.json]

- `--install`: time what `make demo` installs, into a fresh virtual environment
  (`make VENV=<tmp> demo-venv`) with pip's cache off, as on a fresh machine (packages still come
  from this machine's registries and wheel directories, so the network part is not a laptop's).
- `--demo`: `releasegate demo` in a fresh data directory (no converted model, no Inspect logs,
  no store), until the gateway it ends with answers a chat completion with the key the demo
  printed; then it is stopped with SIGINT. Measured: wall time to that answer, peak RSS of the
  whole process tree (every descendant's RSS summed, sampled every 0.1 s with psutil — shared
  pages count once per process, so this is an upper bound: a child forked from a large parent
  counts the parent's pages again until it execs) and the sum of PSS (shared pages split between
  the processes sharing them), the RSS of the tree while it serves,
  and the longest stretch with no line on the demo's output (a pipe, not a terminal).
- `--serve`: `releasegate serve --dev --model bundled:smollm2-guarded` alone (model already
  converted), RSS of its tree after it answered 8 chat completions.

With none of the three flags, all of them run. Results go to stdout and, with `--out`, to JSON.
Goals (issue "fits a laptop"): install + demo ≤ 180 s, demo tree ≤ 2 GB, serve ≤ 1.5 GB.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """(sum of RSS over the process and all its descendants, the largest single RSS)."""
    total = largest = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for p in procs:
        try:
            rss = p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
        total += rss
        largest = max(largest, rss)
    return total, largest


def tree_pss(proc: psutil.Process) -> int:
    """Sum of PSS over the tree: a page shared by n processes counts 1/n in each, so a child
    forked from a large parent (before it execs) does not count the parent's memory twice."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


class Sampler(threading.Thread):
    """Samples a process tree's RSS every `interval_s` until stopped; keeps the peaks."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.interval_s = interval_s
        self.peak_tree = 0
        self.peak_pss = 0
        self.peak_single = 0
        self.last_tree = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            total, largest = tree_rss(self.proc)
            self.last_tree = total
            self.peak_tree = max(self.peak_tree, total)
            self.peak_single = max(self.peak_single, largest)
            self.peak_pss = max(self.peak_pss, tree_pss(self.proc))
            self.stopped.wait(self.interval_s)

    def stop(self) -> None:
        self.stopped.set()
        self.join()


class Lines(threading.Thread):
    """Reads a pipe line by line, time-stamping each line."""

    def __init__(self, stream: Any, echo: bool) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.echo = echo
        self.lines: list[tuple[float, str]] = []
        self.started = time.monotonic()

    def run(self) -> None:
        for raw in iter(self.stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append((time.monotonic(), line))
            if self.echo:
                print(f"  | {line}", flush=True)

    def longest_gap(self, until: float) -> float:
        stamps = [self.started, *(t for t, _ in self.lines), until]
        return max(b - a for a, b in itertools.pairwise(stamps))

    def find(self, pattern: str) -> re.Match[str] | None:
        for _, line in self.lines:
            match = re.search(pattern, line)
            if match:
                return match
        return None


def chat(url: str, key: str | None, model: str, timeout_s: float = 120.0) -> str:
    body = json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "Name three primary colours."}],
            "max_tokens": 16,
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(f"{url}/chat/completions", body, headers)
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        data = json.loads(response.read())
    return str(data["choices"][0]["message"]["content"])


def fresh_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("RELEASEGATE_"):
            del env[name]
    env.update(
        RELEASEGATE_DATA_DIR=str(data_dir),
        COLUMNS="200",  # Rich wraps at 80 columns when not on a terminal: keep the key on a line
        PYTHONUNBUFFERED="1",
    )
    return env


def measure_install(python: str) -> dict[str, Any]:
    venv = Path(tempfile.mkdtemp(prefix="rg-laptop-venv-"))
    env = dict(os.environ, PIP_NO_CACHE_DIR="1")
    started = time.monotonic()
    try:
        done = subprocess.run(
            ["make", f"VENV={venv}", f"PY={python}", "demo-venv"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - started
        size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"make demo-venv failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return {"wall_s": round(wall, 1), "venv_mb": round(size / MB)}


def measure_demo(releasegate: str, echo: bool) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="rg-laptop-data-"))
    out = data_dir / "demo-out"
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [releasegate, "demo", "--out", str(out), "--port", str(port)],
        cwd=data_dir,
        env=fresh_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    sampler = Sampler(proc.pid)
    sampler.start()
    lines = Lines(proc.stdout, echo)
    lines.start()
    result: dict[str, Any] = {}
    try:
        key_match = None
        while proc.poll() is None and key_match is None:
            time.sleep(0.2)
            key_match = lines.find(r"gateway: (\S+)\s+demo key \([^)]*\): (\S+)")
        if key_match is None:
            lines.join(5)
            raise RuntimeError(f"the demo exited with {proc.returncode} before serving")
        url, key = key_match.group(1), key_match.group(2)
        model = "smollm2-guarded"  # the demo's served name (default_served_name)
        answer = None
        while answer is None and proc.poll() is None:
            try:
                answer = chat(url, key, model)
            except urllib.error.HTTPError:
                raise
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        wall = time.monotonic() - started
        serving_tree, _ = tree_rss(sampler.proc)
        result = {
            "wall_s_to_first_answer": round(wall, 1),
            "peak_tree_rss_mb": round(sampler.peak_tree / MB),
            "peak_tree_pss_mb": round(sampler.peak_pss / MB),
            "peak_single_rss_mb": round(sampler.peak_single / MB),
            "serving_tree_rss_mb": round(serving_tree / MB),
            "longest_silence_s": round(lines.longest_gap(time.monotonic()), 1),
            "lines": len(lines.lines),
            "answer": answer,
        }
        assessed = lines.find(r"assessed in (\d+) s")
        if assessed:
            result["assessment_s"] = int(assessed.group(1))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        sampler.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def measure_serve(releasegate: str, requests: int) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="rg-laptop-serve-"))
    env = fresh_env(data_dir)
    # The converted model of an earlier run, so this measures serving, not the conversion.
    if os.environ.get("RELEASEGATE_MODEL_CACHE_DIR"):
        env["RELEASEGATE_MODEL_CACHE_DIR"] = os.environ["RELEASEGATE_MODEL_CACHE_DIR"]
    made = subprocess.run(
        [releasegate, "keys", "create", "--tier", "developer", "--owner", "bench", "--json"],
        env=env,
        cwd=data_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    key = json.loads(made.stdout)["key"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    started = time.monotonic()
    proc = subprocess.Popen(
        [releasegate, "serve", "--dev", "--model", "bundled:smollm2-guarded", "--port", str(port)],
        cwd=data_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sampler = Sampler(proc.pid)
    sampler.start()
    try:
        answered = 0
        first = None
        while answered < requests:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited with {proc.returncode}")
            try:
                chat(url, key, "smollm2-guarded")
            except urllib.error.HTTPError:
                raise  # the server answered: an error to see, not a server still starting
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
                continue
            if first is None:
                first = time.monotonic() - started
            answered += 1
        time.sleep(0.5)
        rss, _ = tree_rss(sampler.proc)
        return {
            "start_to_first_answer_s": round(first or 0.0, 1),
            "tree_rss_mb": round(rss / MB),
            "peak_tree_rss_mb": round(sampler.peak_tree / MB),
            "peak_tree_pss_mb": round(sampler.peak_pss / MB),
            "requests": answered,
        }
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        sampler.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--install", action="store_true", help="time a fresh demo install")
    parser.add_argument("--demo", action="store_true", help="run the demo in a fresh data dir")
    parser.add_argument("--serve", action="store_true", help="serve the bundled model alone")
    parser.add_argument("--requests", type=int, default=8, help="chat requests for --serve")
    parser.add_argument("--echo", action="store_true", help="print the demo's output")
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args()
    everything = not (args.install or args.demo or args.serve)
    releasegate = str(Path(sys.executable).with_name("releasegate"))
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 1024**3:.0f} GiB",
        "load_before": round(os.getloadavg()[0], 2),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    print(f"{results['machine']}; load {results['load_before']}; {results['date']}", flush=True)
    if args.install or everything:
        results["install"] = measure_install("python3")
        print(f"install: {results['install']}", flush=True)
    if args.demo or everything:
        results["demo"] = measure_demo(releasegate, args.echo)
        print(f"demo: {results['demo']}", flush=True)
    if args.serve or everything:
        results["serve"] = measure_serve(releasegate, args.requests)
        print(f"serve: {results['serve']}", flush=True)
    results["load_after"] = round(os.getloadavg()[0], 2)
    if "install" in results and "demo" in results:
        total = results["install"]["wall_s"] + results["demo"]["wall_s_to_first_answer"]
        results["install_plus_demo_s"] = round(total, 1)
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
