"""Running one Inspect task on one model, resumably, and reading its log back.

Each run is keyed by what determines its result — model (spec and weights fingerprint), task
and arguments, dataset hash, limit, seed, releasegate version — and its log is kept under
`<log_root>/<key>/`. A later run with the same key reuses the finished log instead of
evaluating again, so an interrupted assessment resumes where it stopped. Logs are written to a
temporary directory and renamed into place, so a key's directory only ever holds a finished log.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasegate._version import __version__
from releasegate.assess._data import file_sha256


class SuiteFailed(Exception):
    """An evaluation did not finish; the report records it as missing evidence."""


@dataclass(frozen=True)
class TaskRun:
    """The outcome of one task on one model, read back from its Inspect log."""

    key: str
    task: str
    log_path: Path
    log_sha256: str
    value: float
    stderr: float | None
    sample_ids: list[str]
    scores: list[float]
    metadata: dict[str, Any] = field(default_factory=dict)
    sample_metadata: list[dict[str, Any]] = field(default_factory=list)
    other_scores: dict[str, list[float]] = field(default_factory=dict)
    reused: bool = False

    @property
    def n(self) -> int:
        return len(self.scores)


def run_key(**parts: Any) -> str:
    """A stable hash of everything that determines a run's result."""
    payload = json.dumps({"releasegate": __version__, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


async def read_run(key: str, task: str, log_path: Path, *, reused: bool = False) -> TaskRun:
    """Read a finished Inspect log: the headline metric and every sample's score.

    Raises:
        SuiteFailed: the log is not a successful run.
    """
    # The async reader: Inspect's sync one, called inside a running loop, patches asyncio for
    # the whole process (nest_asyncio), after which `asyncio.run` leaks every loop it makes.
    from inspect_ai.log import read_eval_log_async

    log = await read_eval_log_async(str(log_path))
    if log.status != "success":
        message = log.error.message if log.error else f"status {log.status}"
        raise SuiteFailed(f"{task}: {message}")
    if log.results is None or not log.results.scores or not log.samples:
        raise SuiteFailed(f"{task}: the log holds no scores")
    headline = log.results.scores[0]
    metrics = headline.metrics
    value = float(metrics["mean"].value if "mean" in metrics else metrics["accuracy"].value)
    error = float(metrics["stderr"].value) if "stderr" in metrics else None
    samples = sorted(log.samples, key=lambda s: str(s.id))
    ids, scores, meta = [], [], []
    for sample in samples:
        if sample.error is not None or not sample.scores or headline.name not in sample.scores:
            raise SuiteFailed(f"{task}: sample {sample.id} has no score ({sample.error})")
        ids.append(str(sample.id))
        scores.append(float(sample.scores[headline.name].as_float()))
        meta.append(dict(sample.metadata or {}))
    return TaskRun(
        key=key,
        task=task,
        log_path=log_path,
        log_sha256=file_sha256(log_path),
        value=value,
        stderr=error if error is not None and error == error else None,  # NaN for n=1
        sample_ids=ids,
        scores=scores,
        metadata=dict(log.eval.task_args or {})
        | dict(log.eval.metadata or {})
        | {"dataset_name": log.eval.dataset.name, "registry_name": log.eval.task_registry_name},
        other_scores={
            s.name: [float(x.scores[s.name].as_float()) for x in samples if x.scores]
            for s in log.results.scores[1:]
        },
        sample_metadata=meta,
        reused=reused,
    )


def finished_log(directory: Path) -> Path | None:
    logs = sorted(directory.glob("*.eval")) if directory.is_dir() else []
    return logs[0] if logs else None


async def run_task(
    task: Any,
    task_name: str,
    *,
    model: Any,
    key: str,
    log_root: Path,
    limit: int | None,
    seed: int,
) -> TaskRun:
    """Evaluate `task` on `model` (an Inspect `Model`), or reuse the log of an earlier run.

    Args:
        task: an Inspect `Task`.
        task_name: the registered name, for messages and the report.
        model: the Inspect model to evaluate.
        key: the run key (`run_key`), naming the log directory.
        log_root: where run directories live.
        limit: samples per task (None: all).
        seed: the generation seed.

    Raises:
        SuiteFailed: the evaluation did not finish successfully.
    """
    from inspect_ai import eval_async
    from inspect_ai.util._display import init_display_type

    # eval_async takes no `display`; releasegate draws its own progress, Inspect draws none.
    init_display_type("none")

    final = log_root / key
    done = finished_log(final)
    if done is not None:
        try:
            return await read_run(key, task_name, done, reused=True)
        except SuiteFailed:
            shutil.rmtree(final, ignore_errors=True)  # a failed run is never reused
    log_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=log_root))
    try:
        logs = await eval_async(
            task,
            model=model,
            log_dir=str(tmp),
            log_format="eval",
            limit=limit,
            seed=seed,
            fail_on_error=True,
            score_display=False,
        )
        log = logs[0]
        if log.status != "success":
            message = log.error.message if log.error else f"status {log.status}"
            raise SuiteFailed(f"{task_name}: {message}")
        written = finished_log(tmp)
        if written is None:
            raise SuiteFailed(f"{task_name}: Inspect wrote no log")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    path = finished_log(final)
    assert path is not None
    return await read_run(key, task_name, path)


__all__ = ["SuiteFailed", "TaskRun", "finished_log", "read_run", "run_key", "run_task"]
