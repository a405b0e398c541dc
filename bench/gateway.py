"""Gateway overhead: added latency (p50, p99) and maximum throughput of releasegate's gateway in
front of a minimal fast OpenAI-compatible upstream, compared in the same run with calling the
upstream directly and with LiteLLM's proxy in front of the same upstream.

    python bench/gateway.py [--requests 2000] [--rounds 3] [--concurrency 32] [--seconds 5]

- upstream: bench/upstream.py (fixed answer, ~0.1 ms per request on loopback);
- releasegate: `openai:` backend to the upstream; key auth, rate limits (in memory) and the
  audit log (SQLite, hash chain, group commit, awaited before each response) all on; no guards
  (like the LiteLLM proxy); a second instance adds the keyword guard; a third answers from an
  in-process backend instead of the upstream, to show the gateway's own cost without the hop;
  with --floor, a diagnostic fourth has the audit write, the rate limiter and the observers
  stubbed out (what HTTP, parsing, auth and the upstream hop cost by themselves), a bare
  pass-through proxy (bench/_bare_proxy.py: bytes forwarded both ways, nothing else) shows
  what the extra loopback hop alone adds, the floor of any gateway in front of an upstream,
  and a bare FastAPI pass-through (bench/_fastapi_proxy.py: FastAPI + uvicorn + aiohttp, no
  auth, validation, limits or audit), the floor of a gateway built on this stack, against
  which the overhead goal is stated (added p50 ≤ its added p50 + 0.5 ms);
- with --compare-src DIR, the releasegate gateway once more from another source tree (say a
  worktree of the previous commit's src/), interleaved with the rest: a before/after in one run;
- LiteLLM: `litellm[proxy]` installed by this script into bench/.litellm-venv (gitignored), with a
  master key (auth on) and no database.

Each round measures latency with sequential requests on one keep-alive connection per target,
the targets taking turns in chunks of 100 requests (so all of them see the same stretches of a
shared, noisy machine, each kept warm within its chunk), then throughput with `--concurrency`
connections for `--seconds`, target after target. The
reported numbers are medians over rounds; "added" is the target's p50 minus the upstream's in
the same round; "server CPU" is the CPU time of the server process (and its children) per request
during the throughput run, which neighbours on a shared machine inflate less than wall time.
Results go to stdout as Markdown and to --out as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _loadgen import Target, interleaved_latencies, summary, throughput  # noqa: E402

LITELLM_VENV = HERE / ".litellm-venv"
BARE = "bare pass-through proxy (diagnostic)"
FASTAPI = "bare FastAPI pass-through (diagnostic)"
COMPARED = "releasegate, the --compare-src code"
BODY = json.dumps(
    {
        "model": "bench-model",
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 16,
    }
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, ok: tuple[int, ...], timeout_s: float, proc: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status in ok:
                    return
        except urllib.error.HTTPError as e:
            if e.code in ok:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout_s} s")


def _proc_tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _proc_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def ensure_litellm() -> Path:
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        print("installing litellm[proxy] into bench/.litellm-venv ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run(
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True
        )
    return exe


def litellm_version() -> str:
    out = subprocess.run(
        [
            str(LITELLM_VENV / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "?"


def admin_create_key(base: str) -> str:
    req = urllib.request.Request(
        base + "/admin/keys",
        data=json.dumps({"tier": "bench", "owner": "bench"}).encode(),
        headers={
            "Authorization": "Bearer DqErckxbiv1uVNXiVo4IBNpnbAPq01RHokhqEpzw2f0",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(req) as r:
        key: str = json.loads(r.read())["key"]
        return key


def start(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def measure(
    targets: list[Target], pids: dict[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        samples = await interleaved_latencies(targets, args.requests)
        row: dict[str, Any] = {name: summary(values) for name, values in samples.items()}
        for t in targets:
            cpu0 = cpu_seconds(pids[t.name])
            rps, errors, done = await throughput(t, args.concurrency, args.seconds)
            row[t.name]["cpu_ms_per_request"] = (cpu_seconds(pids[t.name]) - cpu0) / done * 1000
            row[t.name]["rps"] = rps
            row[t.name]["errors"] = errors
        rounds.append(row)
        print(
            f"round {r + 1}: " + ", ".join(f"{k} p50 {v['p50_ms']:.3f} ms" for k, v in row.items()),
            file=sys.stderr,
        )
    return {"rounds": rounds}


def report(results: dict[str, Any], names: list[str]) -> str:
    rounds = results["rounds"]

    def med(name: str, field: str) -> float:
        return statistics.median(r[name][field] for r in rounds)

    def added(name: str, field: str) -> float:
        return statistics.median(r[name][field] - r["upstream"][field] for r in rounds)

    lines = [
        "| target | p50 ms | p99 ms | added p50 ms | added p99 ms | req/s at "
        f"{results['concurrency']} conns | server CPU ms/request |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for n in names:
        a50 = "—" if n == "upstream" else f"{added(n, 'p50_ms'):.3f}"
        a99 = "—" if n == "upstream" else f"{added(n, 'p99_ms'):.3f}"
        lines.append(
            f"| {n} | {med(n, 'p50_ms'):.3f} | {med(n, 'p99_ms'):.3f} | {a50} | {a99} | "
            f"{med(n, 'rps'):.0f} | {med(n, 'cpu_ms_per_request'):.2f} |"
        )
    if FASTAPI in names:
        floor = added(FASTAPI, "p50_ms")
        gateway = added("releasegate", "p50_ms")
        verdict = "met" if gateway <= floor + 0.5 else "NOT met"
        lines.append("")
        lines.append(
            f"goal: releasegate added p50 {gateway:.3f} ms ≤ bare FastAPI pass-through "
            f"{floor:.3f} ms + 0.5 ms = {floor + 0.5:.3f} ms: {verdict}"
        )
    if "litellm" in names:
        ratio = added("releasegate", "p50_ms") / added("litellm", "p50_ms")
        lines.append("")
        lines.append(f"releasegate added p50 / LiteLLM added p50 = {ratio:.3f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=2000, help="sequential requests per target per round"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument(
        "--redis-url",
        default=None,
        help="also run releasegate with its limits in this Redis (fleet mode)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run three diagnostics: a gateway with the audit, limits and observers stubbed "
        "out, a bare pass-through proxy (the cost of the extra hop alone) and a bare FastAPI "
        "pass-through (the floor the overhead goal is stated against)",
    )
    parser.add_argument(
        "--compare-src",
        type=Path,
        default=None,
        help="also run releasegate from another source tree (e.g. a worktree of the previous "
        "commit's src/), interleaved with this one: a before/after in one run",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the raw results as JSON")
    args = parser.parse_args()

    procs: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="rg-bench-"))
    try:
        up_port, gw_port, gwg_port, gwf_port, ll_port = (free_port() for _ in range(5))
        up = start([sys.executable, str(HERE / "upstream.py"), "--port", str(up_port)])
        procs.append(up)
        wait_http(f"http://127.0.0.1:{up_port}/v1/models", (200,), 20, up)
        upstream_url = f"http://127.0.0.1:{up_port}/v1"

        pids = {"upstream": up.pid}
        gateways = {}
        for name, port, extra in (
            ("releasegate", gw_port, []),
            ("releasegate + keyword guard", gwg_port, ["--guards", "keyword"]),
            ("releasegate, in-process backend", gwf_port, ["--fixed-backend"]),
            *(
                [
                    (
                        "floor: no audit, limits, observers (diagnostic)",
                        free_port(),
                        ["--without", "audit,limits,observers"],
                    )
                ]
                if args.floor
                else []
            ),
            *(
                [("releasegate, Redis limits", free_port(), ["--redis-url", args.redis_url])]
                if args.redis_url
                else []
            ),
            *([(COMPARED, free_port(), [])] if args.compare_src else []),
        ):
            env = {"PYTHONPATH": str(args.compare_src)} if name == COMPARED else None
            gw = start(
                [
                    sys.executable,
                    str(HERE / "_gateway_server.py"),
                    "--upstream",
                    upstream_url,
                    "--port",
                    str(port),
                    "--data-dir",
                    str(tmp / f"gw{port}"),
                    *extra,
                ],
                env,
            )
            procs.append(gw)
            pids[name] = gw.pid
            wait_http(f"http://127.0.0.1:{port}/v1/models", (401,), 90, gw)
            gateways[name] = (port, admin_create_key(f"http://127.0.0.1:{port}"))

        targets = [Target("upstream", "127.0.0.1", up_port, "/v1/chat/completions", BODY, {})]
        if args.floor:
            bare_port = free_port()
            bare = start(
                [
                    sys.executable,
                    str(HERE / "_bare_proxy.py"),
                    "--upstream-port",
                    str(up_port),
                    "--port",
                    str(bare_port),
                ]
            )
            procs.append(bare)
            wait_http(f"http://127.0.0.1:{bare_port}/v1/models", (200,), 20, bare)
            pids[BARE] = bare.pid
            targets.append(Target(BARE, "127.0.0.1", bare_port, "/v1/chat/completions", BODY, {}))
            fa_port = free_port()
            fa = start(
                [
                    sys.executable,
                    str(HERE / "_fastapi_proxy.py"),
                    "--upstream-port",
                    str(up_port),
                    "--port",
                    str(fa_port),
                ]
            )
            procs.append(fa)
            wait_http(f"http://127.0.0.1:{fa_port}/v1/models", (200,), 30, fa)
            pids[FASTAPI] = fa.pid
            targets.append(Target(FASTAPI, "127.0.0.1", fa_port, "/v1/chat/completions", BODY, {}))
        for name, (port, key) in gateways.items():
            targets.append(
                Target(
                    name,
                    "127.0.0.1",
                    port,
                    "/v1/chat/completions",
                    BODY,
                    {"authorization": f"Bearer {key}"},
                )
            )
        version = None
        if not args.no_litellm:
            exe = ensure_litellm()
            version = litellm_version()
            config = tmp / "litellm.yaml"
            config.write_text(
                "model_list:\n"
                "  - model_name: bench-model\n"
                "    litellm_params:\n"
                "      model: openai/bench-model\n"
                f"      api_base: {upstream_url}\n"
                "      api_key: unused\n"
                "general_settings:\n"
                "  master_key: sk-bench-master\n"
                "litellm_settings:\n"
                "  telemetry: false\n"
            )
            ll = start(
                [str(exe), "--config", str(config), "--port", str(ll_port), "--num_workers", "1"],
                env={"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"},
            )
            procs.append(ll)
            pids["litellm"] = ll.pid
            wait_http(f"http://127.0.0.1:{ll_port}/health/liveliness", (200,), 180, ll)
            targets.append(
                Target(
                    "litellm",
                    "127.0.0.1",
                    ll_port,
                    "/v1/chat/completions",
                    BODY,
                    {"authorization": "Bearer sk-bench-master"},
                )
            )

        results = asyncio.run(measure(targets, pids, args))
        results.update(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
                "python": platform.python_version(),
                "litellm": version,
                "requests": args.requests,
                "rounds": results["rounds"],
                "concurrency": args.concurrency,
                "seconds": args.seconds,
                "load_average_after": os.getloadavg(),
            }
        )
        names = [t.name for t in targets]
        print(report(results, names))
        load = results["load_average_after"]
        print(f"\n{results['date']}, {results['machine']}, load average after {load}")
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    main()
