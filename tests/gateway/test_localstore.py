"""`LocalStorage` behind the `limits` strategies: exact moving windows and fixed-window counters."""

from __future__ import annotations

import asyncio

import pytest
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from releasegate.gateway import Quota, RateLimiter, _localstore
from releasegate.gateway._localstore import LocalStorage
from releasegate.gateway._windows import MemoryWindows


class Clock:
    """Stands in for `time.time` inside the storage, so windows expire without sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(_localstore.time, "time", fake)
    return fake


def test_moving_window_admits_exactly_the_limit_then_slides(clock: Clock) -> None:
    async def go() -> None:
        limiter = MovingWindowRateLimiter(LocalStorage())
        item = RateLimitItemPerMinute(3)
        results = []
        for step in range(4):
            clock.now += 10 if step else 0
            results.append(await limiter.hit(item, "k"))
        assert results == [True, True, True, False]  # hits at t=0,10,20 fill the window
        reset, remaining = await limiter.get_window_stats(item, "k")
        assert remaining == 0
        assert reset == pytest.approx(1_000_000.0 + 60)  # the hit at t=0 leaves at t=60
        clock.now = 1_000_000.0 + 60.5  # the first hit has left the window, the others not
        assert await limiter.hit(item, "k")
        assert not await limiter.hit(item, "k")
        assert await limiter.hit(item, "other")  # windows are per key

    asyncio.run(go())


def test_moving_window_is_exact_under_concurrent_hits() -> None:
    async def go() -> list[bool]:
        limiter = MovingWindowRateLimiter(LocalStorage())
        item = RateLimitItemPerSecond(17)

        async def one() -> bool:
            await asyncio.sleep(0)
            return await limiter.hit(item, "k")

        return await asyncio.gather(*(one() for _ in range(50)))

    assert sum(asyncio.run(go())) == 17


def test_multi_entry_hits_are_all_or_nothing(clock: Clock) -> None:
    async def go() -> None:
        storage = LocalStorage()
        assert not await storage.acquire_entry("k", limit=5, expiry=60, amount=6)
        assert await storage.acquire_entry("k", limit=5, expiry=60, amount=4)
        assert not await storage.acquire_entry("k", limit=5, expiry=60, amount=2)
        assert await storage.get_moving_window("k", 5, 60) == (clock.now, 4)

    asyncio.run(go())


def test_fixed_window_counter_expires_and_ignores_late_give_backs(clock: Clock) -> None:
    async def go() -> None:
        storage = LocalStorage()
        assert await storage.incr("t", 60, 100) == 100
        assert await storage.incr("t", 60, -30) == 70
        assert await storage.get("t") == 70
        assert await storage.get_expiry("t") == pytest.approx(clock.now + 60)
        clock.now += 61
        assert await storage.get("t") == 0
        # Tokens given back after the window closed were counted in the old window: the new
        # window must not start in credit.
        assert await storage.incr("t", 60, -30) == 0
        assert await storage.incr("t", 60, 5) == 5

    asyncio.run(go())


def test_idle_keys_are_swept(clock: Clock) -> None:
    async def go() -> LocalStorage:
        storage = LocalStorage()
        for i in range(100):
            await storage.incr(f"tokens-{i}", 60, 1)
            await storage.acquire_entry(f"rpm-{i}", 10, 60)
        clock.now += _localstore.SWEEP_INTERVAL_S + 61
        await storage.incr("fresh", 60, 1)
        return storage

    storage = asyncio.run(go())
    assert list(storage._counters) == ["fresh"]
    assert storage._windows == {}


def test_rate_limiter_in_memory_uses_local_storage() -> None:
    async def go() -> tuple[int, int]:
        limiter = RateLimiter()
        assert isinstance(limiter.storage, LocalStorage)
        assert isinstance(limiter.windows, MemoryWindows)
        quota = Quota(rpm=2, tpm=1000, daily_tokens=None)
        first = await limiter.admit("key", quota, reserve_tokens=300)
        await limiter.settle(first, used_tokens=120)
        await limiter.admit("key", quota, reserve_tokens=300)
        tokens = await limiter.tokens_used("key", "tpm", 1000)
        try:
            await limiter.admit("key", quota, reserve_tokens=1)
        except Exception as exc:  # the third request in the minute is refused
            return tokens, getattr(exc, "status", 0)
        return tokens, 200

    assert asyncio.run(go()) == (120 + 300, 429)
