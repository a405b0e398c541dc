"""`releasegate serve` as a real child process, for tests of what it serves and refuses."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers.gateway_proc import free_port


class Served:
    """A running `serve`: its base URL; its output once it has stopped."""

    url = ""
    output = ""


@contextmanager
def serve_process(
    args: list[str], env: dict[str, str], cwd: Path, *, timeout_s: float = 60
) -> Iterator[Served]:
    """Run `releasegate serve ARGS --port P`; yield once it answers; stop it after."""
    port = free_port()
    exe = Path(sys.executable).parent / "releasegate"
    proc = subprocess.Popen(
        [str(exe), *args, "--port", str(port)],
        cwd=cwd,
        env={**os.environ, **env, "COLUMNS": "400"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served = Served()
    served.url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"serve exited {proc.returncode}:\n{out}")
            try:
                if httpx.get(served.url + "/v1/models", timeout=1).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("serve did not start in time")
            time.sleep(0.1)
        yield served
    finally:
        proc.terminate()
        try:
            served.output = proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            served.output = proc.communicate()[0]
