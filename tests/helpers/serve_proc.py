"""Run `releasegate serve --dev --model SPEC` as a real process, the way a reader of the docs
does, with its data where the environment says; yields its base URL once it answers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from tests.helpers.gateway_proc import answering_process, free_port

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
    url = f"http://127.0.0.1:{port}"
    with answering_process(cmd, {**os.environ, **env}, url, timeout_s=timeout_s) as took:
        yield url, took
