"""Run a real gateway process (uvicorn, uvloop, httptools) for tests: the echo backend (or a
model spec), the default tiers with the keyword guard, settings from the RELEASEGATE_*
environment.

    python -m tests.helpers.gateway_proc --port 8123 [--model bundled:smollm2]

`start_gateway(port, env)` launches it and waits until it answers.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def answering_process(
    cmd: list[str],
    env: dict[str, str],
    url: str,
    *,
    cwd: Path | None = None,
    timeout_s: float = 60,
    output: list[str] | None = None,
) -> Iterator[float]:
    """Run `cmd` until `GET url/v1/models` answers (401: it wants a key); yields the seconds
    that took; stops the process after (appending what it printed to `output`, if given)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(url + "/v1/models", timeout=1).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > timeout_s:
                raise RuntimeError(f"{' '.join(cmd)} did not answer in time")
            time.sleep(0.02)
        yield time.monotonic() - started
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if output is not None:
            output.append(out.decode() if out else "")


@contextmanager
def start_gateway(
    env: dict[str, str],
    *,
    model: str | None = None,
    timeout_s: float = 60,
    tiers: dict[str, dict[str, Any]] | None = None,
    token_delay_s: float = 0.0,
) -> Iterator[str]:
    """Start a gateway process; yields its base URL (`http://127.0.0.1:PORT`); stops it after.

    `tiers` updates fields of the default (keyword-guarded) tiers, e.g.
    `{"public": {"guards": ["default"], "invisible_text": "refuse"}}`. `token_delay_s`: the echo
    backend's pause between streamed tokens (long-running streams).
    """
    port = free_port()
    cmd = [sys.executable, "-m", "tests.helpers.gateway_proc", "--port", str(port)]
    if model:
        cmd += ["--model", model]
    if token_delay_s:
        cmd += ["--token-delay", str(token_delay_s)]
    if tiers:
        cmd += ["--tiers", json.dumps(tiers)]
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
    url = f"http://127.0.0.1:{port}"
    with answering_process(cmd, full_env, url, cwd=REPO, timeout_s=timeout_s):
        yield url


def main() -> None:
    from releasegate.backends import EchoBackend
    from releasegate.gateway import create_app, run_app
    from releasegate.settings import Settings
    from releasegate.vocab import AccessLevel
    from tests.helpers.gateway import decision_at, keyword_tiers

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--tiers", default="{}", help="JSON: tier name -> fields to update")
    args = parser.parse_args()
    settings = Settings()
    app = create_app(
        settings,
        backend=None if args.model else EchoBackend(token_delay_s=args.token_delay),
        model=args.model,
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(**json.loads(args.tiers)),
    )
    run_app(app, settings, port=args.port)


if __name__ == "__main__":
    main()
