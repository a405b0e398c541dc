"""Sample-level progress of the Inspect tasks an assessment runs.

`assess` reports each task's start and end through its `Progress` callback; inside a task the
samples are Inspect's. An Inspect hook (registered once, when this module is imported, and
enabled only while someone listens) forwards each task's sample count and each finished sample
to the listener of `listen_samples`, so a progress display can show done / total, rate and ETA.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from inspect_ai.hooks import Hooks, SampleEnd, TaskStart, hooks


class SampleListener(Protocol):
    """Told how many samples a task will run and when each one ends."""

    def task_samples(self, total: int) -> None: ...

    def sample_done(self) -> None: ...


_listeners: list[SampleListener] = []


def _task_total(data: TaskStart) -> int:
    spec = data.spec
    ids = spec.dataset.sample_ids
    total = len(ids) if ids is not None else int(spec.dataset.samples or 0)
    limit = spec.config.limit
    if isinstance(limit, int):
        total = min(total, limit)
    elif isinstance(limit, tuple | list) and len(limit) == 2:
        total = min(total, int(limit[1]) - int(limit[0]))
    return total * max(1, int(spec.config.epochs or 1))


@hooks(name="releasegate_progress", description="sample progress for releasegate assess")
class _SampleProgressHook(Hooks):
    def enabled(self) -> bool:
        return bool(_listeners)

    async def on_task_start(self, data: TaskStart) -> None:
        total = _task_total(data)
        for listener in list(_listeners):
            listener.task_samples(total)

    async def on_sample_end(self, data: SampleEnd) -> None:
        for listener in list(_listeners):
            listener.sample_done()


@contextlib.contextmanager
def listen_samples(listener: SampleListener) -> Iterator[None]:
    """Forward the sample progress of every Inspect task run in the block to `listener`."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


__all__ = ["SampleListener", "listen_samples"]
