"""The flag counters, in memory and in the real Redis: one crossing per threshold, a sliding
window, reset and untrip."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from releasegate.monitoring import (
    FlagCounter,
    FlagEvent,
    MemoryFlagCounter,
    MonitorUnavailable,
    RedisFlagCounter,
)


def _counter(kind: str, redis_url: str | None) -> FlagCounter:
    if kind == "memory":
        return MemoryFlagCounter()
    assert redis_url is not None
    return RedisFlagCounter(redis_url, prefix=f"rg-test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def maybe_redis(kind: str, request: pytest.FixtureRequest) -> str | None:
    return str(request.getfixturevalue("redis_url")) if kind == "redis" else None


def _event(seq: int, *cats: str) -> FlagEvent:
    return FlagEvent(seq=seq, at=time.time(), categories=cats)


def test_crosses_once_and_names_every_event(kind: str, maybe_redis: str | None) -> None:
    async def go() -> None:
        counter = _counter(kind, maybe_redis)
        try:
            results = [
                await counter.add(
                    "key_a", _event(i, "S9" if i % 2 else "S1"), threshold=3, window_s=60
                )
                for i in range(1, 6)
            ]
            assert [r.count for r in results] == [1, 2, 3, 4, 5]
            assert [r.crossed for r in results] == [False, False, True, False, False]
            crossing = results[2]
            assert [e.seq for e in crossing.events] == [1, 2, 3]
            assert {c for e in crossing.events for c in e.categories} == {"S1", "S9"}
            # another key is counted apart
            other = await counter.add("key_b", _event(9), threshold=1, window_s=60)
            assert other.crossed and other.count == 1
            # after a reset (incident resolved) the key starts afresh and can cross again
            await counter.reset("key_a")
            again = [
                await counter.add("key_a", _event(i), threshold=2, window_s=60) for i in (10, 11)
            ]
            assert [r.crossed for r in again] == [False, True]
            # untrip (the incident could not be recorded): the next flag retries the crossing
            await counter.untrip("key_a")
            retry = await counter.add("key_a", _event(12), threshold=2, window_s=60)
            assert retry.crossed and [e.seq for e in retry.events] == [10, 11, 12]
        finally:
            await counter.aclose()

    asyncio.run(go())


def test_window_slides(kind: str, maybe_redis: str | None) -> None:
    async def go() -> None:
        counter = _counter(kind, maybe_redis)
        try:
            assert (await counter.add("k", _event(1), threshold=3, window_s=0.3)).count == 1
            assert (await counter.add("k", _event(2), threshold=3, window_s=0.3)).count == 2
            await asyncio.sleep(0.45)  # both fall out of the window
            third = await counter.add("k", _event(3), threshold=3, window_s=0.3)
            assert third.count == 1 and not third.crossed
        finally:
            await counter.aclose()

    asyncio.run(go())


def test_concurrent_flags_cross_exactly_once(kind: str, maybe_redis: str | None) -> None:
    async def go() -> None:
        counters: list[FlagCounter] = [MemoryFlagCounter()]
        if kind == "redis":  # two "processes": each its own connection, the same Redis keys
            assert maybe_redis is not None
            prefix = f"rg-test-{uuid.uuid4().hex[:8]}"
            counters = [RedisFlagCounter(maybe_redis, prefix=prefix) for _ in range(2)]
        try:
            results = await asyncio.gather(
                *(
                    counters[i % len(counters)].add("k", _event(i), threshold=5, window_s=60)
                    for i in range(1, 61)
                )
            )
            assert sum(r.crossed for r in results) == 1
            assert sorted(r.count for r in results) == list(range(1, 61))
            (crossing,) = [r for r in results if r.crossed]
            assert crossing.count == 5 and len(crossing.events) == 5
        finally:
            for c in counters:
                await c.aclose()

    asyncio.run(go())


def test_redis_down_raises_monitor_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def go() -> None:
        counter = RedisFlagCounter(f"redis://127.0.0.1:{port}/0", timeout_s=0.5)
        try:
            with pytest.raises(MonitorUnavailable):
                await counter.add("k", _event(1), threshold=1, window_s=60)
            with pytest.raises(MonitorUnavailable):
                await counter.reset("k")
        finally:
            await counter.aclose()

    asyncio.run(go())
