"""`releasegate serve` as a real child process, for tests of what it serves and refuses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.gateway_proc import free_port, wait_until_answering


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
        wait_until_answering(proc, served.url, timeout_s)
        yield served
    finally:
        proc.terminate()
        try:
            served.output = proc.communicate(timeout=15)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            served.output = proc.communicate()[0]
