"""Token quota windows that stay exact across window boundaries, in memory or on Redis.

A request reserves its worst case in every window it counts against (tokens per minute, per
day) and settles later with what it really used. A window starts at a key's first use and lasts
its period; the next use after that starts a new one. If the give-back of a request that
straddled a boundary landed in the *new* window, that window would start below zero and admit
more than its quota. So every window remembers when it started, a reservation remembers the
exact windows (key and start) it was counted in, and settling adjusts a window only if it is
still that one, and never below zero.

Admission checks every window and adds the reservation to all of them in one atomic step: a Lua
script on Redis (with the Redis server's clock, so a fleet agrees on when windows start and end
whatever its machines' clocks say), a method that never awaits in memory. So concurrent
requests, on one process or many, can never jointly pass a quota.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

# KEYS: one hash per window (fields: start, used); ARGV: amount, then limit and period (ms) of
# each window. Returns {0, 0, start_1, start_2...} when admitted, or {i, ms until window i
# resets} when window i refuses.
_ADMIT = """
local amount = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local starts = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i])
  local period = tonumber(ARGV[2 * i + 1])
  local start = tonumber(redis.call('HGET', KEYS[i], 'start') or '-1')
  local used = 0
  if start >= 0 and start + period > now then
    used = tonumber(redis.call('HGET', KEYS[i], 'used') or '0')
  else
    start = now
  end
  if used + amount > limit then
    return {i, start + period - now}
  end
  starts[i] = start
end
for i = 1, #KEYS do
  local period = tonumber(ARGV[2 * i + 1])
  if tonumber(redis.call('HGET', KEYS[i], 'start') or '-1') ~= starts[i] then
    redis.call('HSET', KEYS[i], 'start', starts[i], 'used', 0)
  end
  redis.call('HINCRBY', KEYS[i], 'used', amount)
  redis.call('PEXPIREAT', KEYS[i], starts[i] + period + 60000)
end
local out = {0, 0}
for i = 1, #starts do out[i + 2] = starts[i] end
return out
"""

# KEYS: windows; ARGV: delta, then the start each window must still have.
_ADJUST = """
local delta = tonumber(ARGV[1])
for i = 1, #KEYS do
  if tonumber(redis.call('HGET', KEYS[i], 'start') or '-1') == tonumber(ARGV[i + 1]) then
    local used = redis.call('HINCRBY', KEYS[i], 'used', delta)
    if used < 0 then redis.call('HSET', KEYS[i], 'used', 0) end
  end
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Window:
    """One quota: `limit` tokens per `period_s` seconds, named `kind` (tpm, day)."""

    kind: str
    limit: int
    period_s: int


@dataclass(frozen=True, slots=True)
class Admission:
    """What `admit` decided: `over` is the index of the first window that refused (None:
    admitted), with the seconds until it resets; `marks` the windows the tokens were added to,
    as (name, start in ms)."""

    over: int | None
    retry_after_s: float
    marks: tuple[tuple[str, int], ...]


class QuotaWindows(Protocol):
    """Where the quota windows are counted."""

    async def admit(self, key_id: str, windows: list[Window], amount: int) -> Admission:
        """Add `amount` to every window of `key_id` if it fits in all of them, atomically."""
        ...

    async def adjust(self, marks: tuple[tuple[str, int], ...], delta: int) -> None:
        """Add `delta` to these windows if each is still the one that started then, never
        below zero."""
        ...

    async def used(self, key_id: str, window: Window) -> int:
        """Tokens counted in the current `window` of `key_id`."""
        ...


def _name(prefix: str, key_id: str, kind: str) -> str:
    # The key id in braces: a Redis Cluster keeps one key's windows in one slot (one script).
    return f"{prefix}:quota:{{{key_id}}}:{kind}"


class MemoryWindows:
    """The windows in this process's memory: exact for one process, forgotten on restart."""

    def __init__(self, prefix: str = "releasegate") -> None:
        self._prefix = prefix
        self._windows: dict[str, tuple[int, int, int]] = {}  # name -> (start, period, used), ms
        self._next_sweep = 0

    async def admit(self, key_id: str, windows: list[Window], amount: int) -> Admission:
        now = _now_ms()
        self._sweep(now)
        marks: list[tuple[str, int]] = []
        for i, window in enumerate(windows):
            name = _name(self._prefix, key_id, window.kind)
            period = window.period_s * 1000
            start, used = self._current(name, now)
            if start is None:
                start, used = now, 0
            if used + amount > window.limit:
                return Admission(i, (start + period - now) / 1000, ())
            marks.append((name, start))
        for (name, start), window in zip(marks, windows, strict=True):
            found = self._windows.get(name)
            used = found[2] if found is not None and found[0] == start else 0
            self._windows[name] = (start, window.period_s * 1000, used + amount)
        return Admission(None, 0.0, tuple(marks))

    def _current(self, name: str, now: int) -> tuple[int | None, int]:
        found = self._windows.get(name)
        if found is None or found[0] + found[1] <= now:
            return None, 0
        return found[0], found[2]

    def _sweep(self, now: int) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + 60_000
        self._windows = {k: v for k, v in self._windows.items() if v[0] + v[1] + 60_000 > now}

    async def adjust(self, marks: tuple[tuple[str, int], ...], delta: int) -> None:
        for name, start in marks:
            found = self._windows.get(name)
            if found is not None and found[0] == start:
                self._windows[name] = (start, found[1], max(0, found[2] + delta))

    async def used(self, key_id: str, window: Window) -> int:
        return self._current(_name(self._prefix, key_id, window.kind), _now_ms())[1]


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisWindows:
    """The windows on Redis, shared by a fleet; Lua scripts make each step atomic.

    Args:
        client: a `redis.asyncio.Redis` client.
        prefix: namespace of the keys.
    """

    def __init__(self, client: Any, prefix: str = "releasegate") -> None:
        self._client = client
        self._prefix = prefix
        self._admit = client.register_script(_ADMIT)
        self._adjust = client.register_script(_ADJUST)

    async def admit(self, key_id: str, windows: list[Window], amount: int) -> Admission:
        names = [_name(self._prefix, key_id, w.kind) for w in windows]
        args: list[int] = [amount]
        for window in windows:
            args += [window.limit, window.period_s * 1000]
        result = await self._admit(keys=names, args=args)
        over = int(result[0])
        if over:
            return Admission(over - 1, int(result[1]) / 1000, ())
        starts = [int(s) for s in result[2:]]
        return Admission(None, 0.0, tuple(zip(names, starts, strict=True)))

    async def adjust(self, marks: tuple[tuple[str, int], ...], delta: int) -> None:
        if marks and delta:
            await self._adjust(
                keys=[name for name, _ in marks], args=[delta, *(start for _, start in marks)]
            )

    async def used(self, key_id: str, window: Window) -> int:
        name = _name(self._prefix, key_id, window.kind)
        start, used = await self._client.hmget(name, ["start", "used"])
        if start is None:
            return 0
        seconds, micros = await self._client.time()
        now = int(seconds) * 1000 + int(micros) // 1000
        return int(used or 0) if int(start) + window.period_s * 1000 > now else 0

    async def aclose(self) -> None:
        await self._client.aclose()


__all__ = ["Admission", "MemoryWindows", "QuotaWindows", "RedisWindows", "Window"]
