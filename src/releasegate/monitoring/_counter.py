"""Sliding-window counters of flagged requests per key, in memory or in Redis.

Each flagged request is one event, named by the audit seq of its record and its hazard
categories. `add` counts it in the key's window and says whether THIS event made the count
cross the threshold. A key crosses once: the crossing sets a "tripped" mark that lives one
window (or until `reset`, when an admin resolves the incident), so a burst of concurrent
flagged requests, or two gateway processes, can never open two incidents for one crossing.

In Redis the window is a sorted set scored by the server's clock (`TIME`, so every process of
a fleet uses one clock) and the whole step is one Lua script, which Redis runs atomically. The
`limits` library's moving window counts the same way but keeps no names of the events, and an
incident must name the audit records that caused it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol


class MonitorUnavailable(Exception):
    """The counters cannot be reached (Redis down): the caller refuses the request (503)."""


@dataclass(frozen=True, slots=True)
class FlagEvent:
    """One flagged request in a key's window."""

    seq: int
    at: float  # seconds since the epoch
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CountResult:
    """What `add` saw: the count in the window after this event, and, on the crossing event
    only, every event in the window (the incident's evidence)."""

    count: int
    crossed: bool
    events: tuple[FlagEvent, ...] = ()


class FlagCounter(Protocol):
    """Per-key sliding-window counts of flagged requests."""

    async def add(
        self, key_id: str, event: FlagEvent, *, threshold: int, window_s: float
    ) -> CountResult:
        """Count one flagged request; `crossed` is True for exactly one event per crossing.

        Raises:
            MonitorUnavailable: the storage cannot be reached.
        """
        ...

    async def untrip(self, key_id: str) -> None:
        """Forget a crossing whose incident could not be recorded, so the next flag retries."""
        ...

    async def reset(self, key_id: str) -> None:
        """Clear a key's window and crossing (its incident was resolved)."""
        ...

    async def aclose(self) -> None: ...


def _member(event: FlagEvent) -> str:
    return f"{event.seq}|{','.join(event.categories)}"


def _parse(member: str, score: float) -> FlagEvent:
    seq, _, cats = member.partition("|")
    return FlagEvent(seq=int(seq), at=score, categories=tuple(c for c in cats.split(",") if c))


class MemoryFlagCounter:
    """Counters in this process (one gateway). Each step runs without an `await` inside, so
    on one event loop it is atomic."""

    def __init__(self) -> None:
        self._windows: dict[str, deque[FlagEvent]] = {}
        self._tripped: dict[str, float] = {}  # key id -> monotonic time the mark expires

    async def add(
        self, key_id: str, event: FlagEvent, *, threshold: int, window_s: float
    ) -> CountResult:
        window = self._windows.setdefault(key_id, deque())
        while window and window[0].at <= event.at - window_s:
            window.popleft()
        window.append(event)
        count = len(window)
        now = time.monotonic()
        mark = self._tripped.get(key_id)
        if count >= threshold and (mark is None or mark <= now):
            self._tripped[key_id] = now + window_s
            return CountResult(count, True, tuple(window))
        return CountResult(count, False)

    async def untrip(self, key_id: str) -> None:
        self._tripped.pop(key_id, None)

    async def reset(self, key_id: str) -> None:
        self._windows.pop(key_id, None)
        self._tripped.pop(key_id, None)

    async def aclose(self) -> None:
        return None


# KEYS: window zset, tripped mark. ARGV: member, window ms, threshold.
# Returns {count, crossed, start_ms, members-with-scores (only when crossed)}.
_ADD_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], window)
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[3]) and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], now, 'PX', window)
  return {count, 1, now, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')}
end
return {count, 0, now, {}}
"""


class RedisFlagCounter:
    """Counters shared by a fleet of gateway processes in Redis.

    Args:
        redis_url: the same `RELEASEGATE_REDIS_URL` the rate limiter uses.
        prefix: namespace of the keys in Redis.
        timeout_s: connect and read timeout; past it the request is refused (503).
    """

    def __init__(
        self, redis_url: str, *, prefix: str = "releasegate", timeout_s: float = 1.0
    ) -> None:
        import redis.asyncio as aioredis
        from redis.exceptions import RedisError

        url = redis_url.removeprefix("async+")
        self._client: Any = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        self._script = self._client.register_script(_ADD_SCRIPT)
        self._prefix = prefix
        self._errors: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

    def _keys(self, key_id: str) -> list[str]:
        # One hash tag per key id: both keys land on the same slot of a Redis Cluster.
        return [f"{self._prefix}:flags:{{{key_id}}}", f"{self._prefix}:tripped:{{{key_id}}}"]

    async def add(
        self, key_id: str, event: FlagEvent, *, threshold: int, window_s: float
    ) -> CountResult:
        try:
            count, crossed, _now, flat = await self._script(
                keys=self._keys(key_id),
                args=[_member(event), max(1, int(window_s * 1000)), threshold],
            )
        except self._errors as exc:
            raise MonitorUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not crossed:
            return CountResult(int(count), False)
        events = tuple(
            _parse(flat[i].decode(), float(flat[i + 1]) / 1000) for i in range(0, len(flat), 2)
        )
        return CountResult(int(count), True, events)

    async def untrip(self, key_id: str) -> None:
        try:
            await self._client.delete(self._keys(key_id)[1])
        except self._errors as exc:
            raise MonitorUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def reset(self, key_id: str) -> None:
        try:
            await self._client.delete(*self._keys(key_id))
        except self._errors as exc:
            raise MonitorUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()


def make_counter(redis_url: str | None) -> FlagCounter:
    """Redis counters when `redis_url` is set (a fleet), else counters in this process."""
    if redis_url:
        return RedisFlagCounter(redis_url)
    return MemoryFlagCounter()


__all__ = [
    "CountResult",
    "FlagCounter",
    "FlagEvent",
    "MemoryFlagCounter",
    "MonitorUnavailable",
    "RedisFlagCounter",
    "make_counter",
]
