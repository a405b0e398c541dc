"""`Checkpointer`: a running gateway's signed audit checkpoints, at an interval and at the end."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from releasegate.audit._log import AuditLog

log = logging.getLogger("releasegate.audit")


class Checkpointer:
    """Signs a checkpoint of `log` every `interval_s` seconds (when records were appended since
    the last one) and once more when closed, on a thread (the event loop never signs or writes).

    Args:
        log: the audit log, with its checkpoint key.
        interval_s: seconds between checkpoints.
    """

    def __init__(self, log: AuditLog, interval_s: float) -> None:
        self._log = log
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the periodic checkpoints on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await asyncio.to_thread(self._log.checkpoint)
            except Exception as exc:  # the next interval tries again; verify still works
                log.warning("audit checkpoint failed: %s", exc)

    async def aclose(self) -> None:
        """Stop the periodic checkpoints and write the last one (the log's final state)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await asyncio.to_thread(self._log.checkpoint)
        except Exception as exc:
            log.warning("final audit checkpoint failed: %s", exc)


__all__ = ["Checkpointer"]
