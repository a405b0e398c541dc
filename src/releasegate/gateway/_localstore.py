"""`LocalStorage`: the in-process counters behind `limits` for a single gateway process.

`limits` ships an async `MemoryStorage`, but on the gateway's hot path it cost ≈130–170 µs per
request (`bench/gateway.py`, 2026-11-29): its moving window prepends every hit to a Python list
(a copy of the whole window each time), and after each hit it schedules a task that walks every
key and hands a bisect to a worker thread, so every request also paid a thread round trip.
This storage keeps the same semantics with constant work per hit: a deque of hit times per
moving-window key (new hits appended on the right, expired ones dropped from the left) and a
(count, expiry) pair per fixed-window counter, swept of stale keys once a minute.

It is exact in the sense the gateway needs: every method runs to completion without awaiting,
on the event loop's one thread, so concurrent requests cannot interleave inside a check-and-add.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from limits.aio.storage import MovingWindowSupport, Storage

SWEEP_INTERVAL_S = 60.0


@dataclass(slots=True)
class _Counter:
    count: int
    expires_at: float


@dataclass(slots=True)
class _Window:
    expiry: float
    hits: deque[float] = field(default_factory=deque)

    def prune(self, now: float) -> None:
        # A hit at time t counts while t >= now - expiry (as in `limits`' own storages).
        cutoff = now - self.expiry
        hits = self.hits
        while hits and hits[0] < cutoff:
            hits.popleft()


class LocalStorage(Storage, MovingWindowSupport):
    """Fixed-window counters and moving windows in this process's memory."""

    STORAGE_SCHEME = ["async+releasegate-local"]  # noqa: RUF012 (`limits` declares it so)

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool
    ) -> None:
        self._counters: dict[str, _Counter] = {}
        self._windows: dict[str, _Window] = {}
        self._next_sweep = time.time() + SWEEP_INTERVAL_S
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    # -- fixed windows (token quotas) ---------------------------------------------------------

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's counter, opening a new window of `expiry` s if none is open.

        A negative amount (tokens given back) into a window that has already expired changes
        nothing: the tokens were counted in the old window, not the new one.
        """
        now = time.time()
        if now >= self._next_sweep:
            self._sweep(now)
        counter = self._counters.get(key)
        if counter is None or counter.expires_at <= now:
            if amount < 0:
                self._counters.pop(key, None)
                return 0
            counter = self._counters[key] = _Counter(0, now + expiry)
        counter.count += amount
        return counter.count

    async def get(self, key: str) -> int:
        counter = self._counters.get(key)
        if counter is None or counter.expires_at <= time.time():
            return 0
        return counter.count

    async def get_expiry(self, key: str) -> float:
        counter = self._counters.get(key)
        now = time.time()
        if counter is None or counter.expires_at <= now:
            return now
        return counter.expires_at

    # -- moving windows (requests per minute) -------------------------------------------------

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        if now >= self._next_sweep:
            self._sweep(now)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(float(expiry))
        window.prune(now)
        if len(window.hits) + amount > limit:
            return False
        if amount == 1:
            window.hits.append(now)
        else:
            window.hits.extend([now] * amount)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(time of the oldest hit still in the window, hits in the window)."""
        now = time.time()
        window = self._windows.get(key)
        if window is None:
            return now, 0
        window.prune(now)
        if not window.hits:
            return now, 0
        return window.hits[0], len(window.hits)

    # -- housekeeping -------------------------------------------------------------------------

    async def check(self) -> bool:
        return True

    async def reset(self) -> int | None:
        count = len(self._counters) + len(self._windows)
        self._counters.clear()
        self._windows.clear()
        return count

    async def clear(self, key: str) -> None:
        self._counters.pop(key, None)
        self._windows.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Forget keys with nothing left in their window, so idle keys do not pile up."""
        self._next_sweep = now + SWEEP_INTERVAL_S
        for key in [k for k, c in self._counters.items() if c.expires_at <= now]:
            del self._counters[key]
        for key, window in list(self._windows.items()):
            window.prune(now)
            if not window.hits:
                del self._windows[key]


__all__ = ["LocalStorage"]
