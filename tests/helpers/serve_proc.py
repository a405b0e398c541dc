"""Run `releasegate serve --dev --model echo:` as a real process, the way a reader of the docs
does, with its data in a temporary directory; yields its base URL once it answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx

from tests.helpers.gateway_proc import free_port

CLI = Path(sys.executable).with_name("releasegate")


def serve_echo(
    env: dict[str, str], *, timeout_s: float = 60
) -> AbstractContextManager[tuple[str, float]]:
    """Start the echo gateway; yields (`http://127.0.0.1:PORT`, seconds until it answered)."""
    return serve_spec("echo:", env, timeout_s=timeout_s)


@contextmanager
def serve_spec(
    model: str, env: dict[str, str], *, timeout_s: float = 60
) -> Iterator[tuple[str, float]]:
    """`releasegate serve --dev --model MODEL`; yields its URL and how long it took to answer."""
    port = free_port()
    cmd = [str(CLI), "serve", "--dev", "--model", model, "--port", str(port)]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"releasegate serve exited with {proc.returncode}:\n{out}")
            try:
                if httpx.get(url + "/v1/models", timeout=1).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > timeout_s:
                raise RuntimeError("releasegate serve did not answer in time")
            time.sleep(0.02)
        yield url, time.monotonic() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
