"""Token quota windows are exact across window boundaries and under concurrency, in memory and on
the real Redis (two clients standing in for two gateway processes). Windows of one second here;
the gateway's are a minute and a day, with the same code."""

from __future__ import annotations

import asyncio
import os
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from releasegate.gateway._windows import MemoryWindows, QuotaWindows, RedisWindows, Window

WINDOW = Window("tpm", 100, 1)

pytestmark = pytest.mark.reliability


@asynccontextmanager
async def _windows(kind: str, redis_url: str | None) -> AsyncIterator[Callable[[], QuotaWindows]]:
    """A factory of window stores that share their counters (one per simulated process)."""
    if kind == "memory":
        shared = MemoryWindows()
        yield lambda: shared
        return
    import redis.asyncio as aioredis

    assert redis_url is not None
    prefix = f"rg-test-{os.urandom(6).hex()}"  # other sessions use this Redis at the same time
    clients: list[RedisWindows] = []

    def make() -> QuotaWindows:
        store = RedisWindows(aioredis.Redis.from_url(redis_url), prefix=prefix)
        clients.append(store)
        return store

    try:
        yield make
    finally:
        for store in clients:
            await store.aclose()


@pytest.fixture(params=["memory", "redis"])
def kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return request.param, url


def test_a_give_back_after_the_boundary_does_not_open_the_next_window(
    kind: tuple[str, str | None],
) -> None:
    async def go() -> None:
        async with _windows(*kind) as make:
            windows = make()
            first = await windows.admit("k", [WINDOW], 100)  # the whole quota, worst case
            assert first.over is None
            await asyncio.sleep(1.05)  # the request is still running when its window ends
            second = await windows.admit("k", [WINDOW], 100)
            assert second.over is None and second.marks != first.marks
            await windows.adjust(first.marks, -100)  # the first used nothing after all
            assert await windows.used("k", WINDOW) == 100  # the new window is untouched
            refused = await windows.admit("k", [WINDOW], 1)
            assert refused.over == 0 and 0 < refused.retry_after_s <= 1.0

    asyncio.run(go())


def test_settled_windows_never_go_below_zero(kind: tuple[str, str | None]) -> None:
    async def go() -> None:
        async with _windows(*kind) as make:
            windows = make()
            admitted = await windows.admit("k", [WINDOW], 10)
            await windows.adjust(admitted.marks, -50)
            assert await windows.used("k", WINDOW) == 0
            assert (await windows.admit("k", [WINDOW], 101)).over == 0

    asyncio.run(go())


def test_concurrent_requests_on_two_processes_never_pass_a_window(
    kind: tuple[str, str | None],
) -> None:
    """For 2.5 s, 40 clients on two stores reserve 7..30 tokens, hold them a random while (many
    across a boundary) and settle with a random use: in no window do the tokens used by the
    requests admitted into it exceed the quota."""
    used_in: dict[tuple[str, int], int] = defaultdict(int)
    rng = random.Random(7)

    async def go() -> None:
        async with _windows(*kind) as make:
            stores = [make(), make()]

            async def client(i: int) -> None:
                store = stores[i % 2]
                loop = asyncio.get_running_loop()
                end = loop.time() + 2.5
                while loop.time() < end:
                    reserve = rng.randint(7, 30)
                    admission = await store.admit("fleet-key", [WINDOW], reserve)
                    if admission.over is not None:
                        await asyncio.sleep(0.01)
                        continue
                    await asyncio.sleep(rng.uniform(0, 0.3))
                    use = rng.randint(0, reserve)
                    [mark] = admission.marks
                    used_in[mark] += use
                    await store.adjust(admission.marks, use - reserve)

            await asyncio.gather(*(client(i) for i in range(40)))

    asyncio.run(go())
    assert len(used_in) >= 2  # the run crossed at least one boundary
    over: dict[Any, int] = {m: u for m, u in used_in.items() if u > WINDOW.limit}
    assert not over, over
