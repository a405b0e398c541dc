"""Run the real `releasegate` entry point in-process or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from releasegate._cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_main(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Result:
    """`main()` with `args`, exactly as the console script runs it (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["releasegate", *args])
    monkeypatch.setenv("COLUMNS", "400")  # Rich would wrap long paths at 80 columns
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_subprocess(
    args: list[str], cwd: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> Result:
    """The installed `releasegate` console script in a child process (`env` added to ours)."""
    exe = Path(sys.executable).parent / "releasegate"
    env = {**os.environ, "COLUMNS": "400", **(env or {})}
    proc = subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
