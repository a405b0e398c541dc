"""A separate OS process that appends to an audit chain (for the fleet test).

Usage: python -m tests.helpers.audit_worker URL NAME N
Appends N records as actor NAME: half through the sync API, half through the async group-commit
writer with 8 concurrent tasks, waiting on a start file so the processes overlap.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from releasegate.audit import AuditLog, AuditWriter
from releasegate.store import make_engine, make_session_factory
from tests.helpers.stores import TEST_HMAC_KEY


async def _async_part(log: AuditLog, name: str, start: int, count: int) -> None:
    queue = list(range(start, start + count))
    writer = AuditWriter(log)

    async def worker() -> None:
        while queue:
            i = queue.pop()
            await writer.append_async("request", name, {"i": i})

    await asyncio.gather(*(worker() for _ in range(8)))
    await writer.aclose()


def main() -> None:
    url, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    engine = make_engine(url)
    log = AuditLog(make_session_factory(engine), TEST_HMAC_KEY)
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    half = n // 2
    for i in range(half):
        log.append("request", name, {"i": i})
    asyncio.run(_async_part(log, name, half, n - half))
    engine.dispose()


if __name__ == "__main__":
    main()
