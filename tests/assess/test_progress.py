"""Progress of `releasegate assess`: a Rich bar on a terminal, periodic plain lines in a pipe;
and the concurrency of its requests to an OpenAI-compatible model."""

from __future__ import annotations

import io
import itertools
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from rich.console import Console

from releasegate._cli._progress import AssessProgress
from releasegate.assess import AssessOptions, assess
from releasegate.settings import Settings
from tests.helpers.assess_data import write_request_sets
from tests.helpers.openai_server import serve_fake_upstream


def _plain(interval_s: float) -> tuple[AssessProgress, io.StringIO]:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    return AssessProgress(console, interval_s=interval_s), buffer


def test_plain_lines_report_done_total_rate_and_eta() -> None:
    progress, buffer = _plain(interval_s=0.3)
    with progress:
        progress("start", "refusal/pre_mitigation")
        progress.task_samples(4)
        progress.sample_done()
        time.sleep(0.05)
        progress.sample_done()
        time.sleep(0.8)  # quiet: the heartbeat speaks
        progress.sample_done()
        progress.sample_done()
        progress("done", "refusal/pre_mitigation")
        progress("start", "tamper/lora")  # no Inspect samples: how long it has run
        time.sleep(0.8)
        progress("failed: out of memory", "tamper/lora")
    out = buffer.getvalue()
    assert "refusal/pre_mitigation: started" in out
    assert re.search(r"refusal/pre_mitigation: 2/4 samples, [\d.]+ samples/s, ETA \d+ s", out)
    assert re.search(r"refusal/pre_mitigation: done in \d+ s, 4 samples", out)
    assert re.search(r"tamper/lora: running for \d+ s", out)
    assert "tamper/lora: failed: out of memory" in out
    assert "\x1b[" not in out  # no terminal codes in a pipe


def test_a_terminal_gets_a_rich_bar() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    with AssessProgress(console) as progress:
        progress("start", "cbrn-mcq/pre_mitigation")
        progress.task_samples(16)
        for _ in range(5):
            progress.sample_done()
        progress._bar.refresh()  # type: ignore[union-attr]
        drawn = buffer.getvalue()
        progress("done", "cbrn-mcq/pre_mitigation")
    assert "5/16" in drawn and "━" in drawn
    assert "16/16" in buffer.getvalue()


def test_a_pipe_gets_a_line_at_least_every_10_s(tmp_path: Path) -> None:
    """The real command in a subprocess whose stderr is a pipe: periodic lines with done /
    total, rate and ETA while a slow model answers, one request at a time (--max-connections)."""
    sets = write_request_sets(tmp_path / "sets")
    with serve_fake_upstream() as model:
        model.state.delay_s = 2.0
        env = dict(os.environ, RELEASEGATE_DATA_DIR=str(tmp_path / "data"), COLUMNS="200")
        cmd = [
            sys.executable,
            "-m",
            "releasegate._cli",
            "assess",
            f"openai:{model.base_url}#fake-model",
            "--suite",
            "over_refusal",
            "--guards",
            "",
            "--judge",
            "phrases",
            "--limit",
            "6",
            "--max-connections",
            "1",
            "--data",
            f"benign_sensitive={sets['benign_sensitive']}",
            "--out",
            str(tmp_path / "report.json"),
        ]
        lines: list[tuple[float, str]] = []
        with subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path
        ) as proc:

            def read() -> None:
                assert proc.stderr is not None
                for raw in iter(proc.stderr.readline, b""):
                    lines.append((time.monotonic(), raw.decode(errors="replace").rstrip()))

            reader = threading.Thread(target=read)
            reader.start()
            try:
                proc.wait(timeout=300)
            finally:
                if proc.poll() is None:
                    proc.kill()
                reader.join()
        in_flight = model.state.max_in_flight
    text = "\n".join(line for _, line in lines)
    assert proc.returncode == 0, text
    task = [t for t, line in lines if "over_refusal/post_mitigation" in line]
    assert task, text
    # From the task's start to its end, no silence longer than 10 s.
    stamps = [t for t, _ in lines if task[0] <= t <= task[-1]]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert max(gaps, default=0.0) <= 10.0, text
    assert re.search(r"over_refusal/post_mitigation: [1-5]/6 samples, [\d.]+ samples/s, ETA", text)
    assert "\x1b[" not in text
    assert in_flight == 1  # --max-connections 1: one request at a time


def test_remote_requests_run_concurrently_up_to_the_limit(tmp_path: Path) -> None:
    sets = write_request_sets(tmp_path / "sets")
    with serve_fake_upstream() as model:
        model.state.delay_s = 0.3
        opts = AssessOptions(
            model=f"openai:{model.base_url}#fake-model",
            suites=("over_refusal",),
            guards=(),
            judge="phrases",
            limit=8,
            data={"benign_sensitive": sets["benign_sensitive"]},
            log_dir=tmp_path / "logs",
        )
        settings = Settings(data_dir=tmp_path / "data", upstream_max_connections=4)
        report = assess(opts, settings)
        in_flight = model.state.max_in_flight
    assert [e.id for e in report.evidence] == ["over_refusal_rate/post_mitigation"]
    assert in_flight == 4
