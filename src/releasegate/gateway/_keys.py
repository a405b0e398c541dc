"""Authenticate bearer keys, with a short cache in front of the store.

Every lookup that misses the cache runs in a worker thread (the store is synchronous
SQLAlchemy), so the event loop never blocks on the database. Entries live `ttl_s` seconds
(default 0.5 s): a key revoked or suspended through any process of the fleet is refused by every
process within that time plus one lookup, well inside the one-second promise. Concurrent misses
on one key share a single lookup, so a burst of requests does one query, not fifty.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

R = TypeVar("R")


class KeyCache(Generic[R]):
    """A TTL cache with single-flight loading in front of a blocking `lookup(plaintext)`.

    Args:
        lookup: the store's `authenticate(plaintext) -> record | None`; may raise when the store
            is unreachable (the caller then refuses the request).
        ttl_s: how long an answer (a record, or "no such key") is reused.
    """

    def __init__(self, lookup: Callable[[str], R | None], ttl_s: float = 0.5) -> None:
        self._lookup = lookup
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, R | None]] = {}
        self._inflight: dict[str, asyncio.Future[R | None]] = {}
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rg-keys")
        self.lookups = 0  # store queries made (tests, metrics)

    async def get(self, plaintext: str) -> R | None:
        """The key's record, or None if the store knows no such (valid) key.

        Raises:
            Exception: whatever the store raised (unreachable database...).
        """
        digest = hashlib.sha256(plaintext.encode()).hexdigest()
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and entry[0] > now:
            return entry[1]
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R | None] = loop.create_future()
        self._inflight[digest] = future
        try:
            self.lookups += 1
            record = await loop.run_in_executor(self._executor, self._lookup, plaintext)
        except BaseException as exc:
            self._entries.pop(digest, None)
            future.set_exception(exc)
            future.exception()  # mark retrieved: other waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop(digest, None)
        # Stamp from the start of the lookup so an entry never outlives ttl_s since it was read.
        self._entries[digest] = (now + self.ttl_s, record)
        if len(self._entries) > 100_000:  # bound memory against floods of random keys
            self._prune(time.monotonic())
        future.set_result(record)
        return record

    def _prune(self, now: float) -> None:
        for k in [k for k, (exp, _) in self._entries.items() if exp <= now]:
            del self._entries[k]
        if len(self._entries) > 100_000:
            self._entries.clear()

    def invalidate(self, plaintext: str | None = None) -> None:
        """Forget one key (after this process revoked it) or every key."""
        if plaintext is None:
            self._entries.clear()
        else:
            self._entries.pop(hashlib.sha256(plaintext.encode()).hexdigest(), None)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def record_field(record: Any, name: str, default: Any = None) -> Any:
    return getattr(record, name, default)


__all__ = ["KeyCache"]
