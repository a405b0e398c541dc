"""Progress of an assessment: a Rich progress bar on a terminal, plain lines everywhere else.

On a terminal each task gets a bar row (done / total samples, rate, time left). When the output is
a pipe or a file (CI, `make demo | tee`, a service log) nothing redraws: a line is printed when a
task starts or ends, and a heartbeat line at least every `interval_s` while one runs — done /
total samples, rate and ETA when Inspect reports samples, else how long the step has run (model
loading, fine-tuning) — so a reader always sees that the assessment is alive and how far it is.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from releasegate._cli._common import safe

_MARKS = {"done": "[green]done[/]", "reused": "[cyan]reused log[/]"}


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s"


class _Step:
    """One step (an Inspect task, or work of releasegate's own) while it runs."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.first_done: float | None = None  # rate from the first sample on, not model warm-up
        self.task_id: TaskID | None = None

    def rate(self, now: float) -> float | None:
        if self.done < 1 or self.first_done is None:
            return None
        if self.done == 1:
            return 1.0 / max(1e-3, self.first_done - self.started)
        return (self.done - 1) / max(1e-3, now - self.first_done)

    def status(self, now: float) -> str:
        elapsed = _duration(now - self.started)
        if self.total <= 0:
            return f"running for {elapsed}"
        rate = self.rate(now)
        text = f"{self.done}/{self.total} samples"
        if rate is None:
            return f"{text}, first sample running ({elapsed})"
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        eta = _duration(left) if left != float("inf") else "unknown"
        return f"{text}, {rate:.2f} samples/s, ETA {eta} ({elapsed} so far)"


class AssessProgress:
    """The `Progress` callback of `assess` and the listener of its samples, drawn on `console`.

    Args:
        console: where to draw (stderr in the CLI).
        interval_s: longest silence between plain lines (not on a terminal).
        live: force the Rich bar (True) or plain lines (False); default: the console decides.
    """

    def __init__(self, console: Console, *, interval_s: float = 4.0, live: bool | None = None):
        self._console = console
        self._interval_s = interval_s
        self._live = console.is_terminal if live is None else live
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_line = self._started
        self._steps: dict[str, _Step] = {}
        self._current: _Step | None = None
        self._finished = 0
        self._samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Progress | None = None

    # -- context ------------------------------------------------------------------------------

    def __enter__(self) -> AssessProgress:
        if self._live:
            self._bar = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                TimeElapsedColumn(),
                console=self._console,
                transient=False,
            )
            self._bar.__enter__()
        else:
            self._thread = threading.Thread(
                target=self._heartbeat, name="releasegate-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)

    # -- assess's Progress callback -------------------------------------------------------------

    def __call__(self, event: str, label: str) -> None:
        with self._lock:
            if event == "start":
                step = self._steps[label] = _Step(label)
                self._current = step
                if self._bar is not None:
                    step.task_id = self._bar.add_task(f"{safe(label)} …", total=None, rate="")
                else:
                    self._line(f"{safe(label)}: started")
                return
            step = self._steps.pop(label) if label in self._steps else _Step(label)
            if self._current is step:
                self._current = None
            self._finished += 1
            mark = _MARKS.get(event, f"[red]{safe(event)}[/]")
            took = _duration(time.monotonic() - step.started)
            if self._bar is not None:
                if step.task_id is None:
                    step.task_id = self._bar.add_task("", total=1, rate="")
                total = step.total or 1
                self._bar.update(
                    step.task_id,
                    description=f"{safe(label)} {mark}",
                    total=total,
                    completed=total if event in _MARKS else step.done,
                )
            else:
                samples = f", {step.done} samples" if step.done else ""
                self._line(f"{safe(label)}: {mark} in {took}{samples}")

    # -- SampleListener -----------------------------------------------------------------------

    def task_samples(self, total: int) -> None:
        with self._lock:
            step = self._current
            if step is None:
                return
            step.total, step.done, step.first_done = total, 0, None
            if self._bar is not None and step.task_id is not None:
                self._bar.update(step.task_id, total=total, completed=0)

    def sample_done(self) -> None:
        with self._lock:
            self._samples += 1
            step = self._current
            if step is None:
                return
            step.done += 1
            now = time.monotonic()
            if step.first_done is None:
                step.first_done = now
            if self._bar is not None and step.task_id is not None:
                rate = step.rate(now)
                self._bar.update(
                    step.task_id,
                    completed=step.done,
                    rate=f"{rate:.2f}/s" if rate is not None else "",
                )

    # -- plain lines --------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        now = time.monotonic()
        self._last_line = now
        elapsed = round(now - self._started)
        self._console.print(safe(f"[{elapsed:>4d}s] ") + text, highlight=False, soft_wrap=True)

    def _heartbeat(self) -> None:
        while not self._stop.wait(0.25):
            with self._lock:
                now = time.monotonic()
                if now - self._last_line < self._interval_s:
                    continue
                step = self._current
                if step is not None:
                    self._line(f"{safe(step.label)}: {step.status(now)}")
                elif self._finished == 0:
                    took = _duration(now - self._started)
                    self._line(f"starting: loading the model ({took} so far)")
                else:
                    self._line(f"between steps ({self._finished} done, {self._samples} samples)")


__all__ = ["AssessProgress"]
