"""Rate limits and token quotas per key, with the `limits` library.

- requests per minute: a moving window (exact: a request is admitted only if fewer than `rpm`
  were admitted in the last 60 s);
- tokens per minute and tokens per day: fixed windows that start at a key's first use. A request
  reserves its worst case up front (prompt bytes + `max_tokens` × `n`: a token is never shorter
  than one byte) and gives back what it did not use when it ends, so concurrent requests can
  never jointly pass a quota, and the counters end up holding exactly the tokens used.

In memory for one process (`LocalStorage`, a constant-time storage for `limits`); Redis
(`RELEASEGATE_REDIS_URL`) for a fleet, where the counters are shared by every gateway process
(the `limits` Redis storage updates them with Lua scripts, atomically). If the storage cannot
be reached the request is refused with 503: no limiter, no service.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from releasegate.gateway._errors import ApiError, unavailable
from releasegate.gateway._localstore import LocalStorage

Step = Callable[[], Awaitable[Any]]  # one storage update, started when called


@dataclass(frozen=True, slots=True)
class Quota:
    """The limits in force for one key: the tier's, lowered by the key's own overrides."""

    rpm: int | None
    tpm: int | None
    daily_tokens: int | None


@dataclass(slots=True)
class Reservation:
    """Tokens reserved by an admitted request; settle it once, when the request ends."""

    key_id: str
    quota: Quota
    reserved: int
    settled: bool = False


def _too_many(message: str, retry_after_s: float, code: str) -> ApiError:
    return ApiError(
        429,
        message,
        type="rate_limit_error",
        code=code,
        headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))},
    )


class RateLimiter:
    """Admits requests against a key's quota.

    Args:
        redis_url: `redis://host:port/db` for a fleet; None keeps counters in this process.
        prefix: namespace of the counters in Redis.
        timeout_s: Redis connect and read timeout; past it the request is refused (503).
    """

    def __init__(
        self, redis_url: str | None = None, *, prefix: str = "releasegate", timeout_s: float = 1.0
    ) -> None:
        self.shared = redis_url is not None
        self.storage: Storage
        if redis_url is not None:
            uri = redis_url if redis_url.startswith("async+") else f"async+{redis_url}"
            self.storage = RedisStorage(
                uri,
                implementation="redispy",
                key_prefix=prefix,
                socket_connect_timeout=timeout_s,
                socket_timeout=timeout_s,
            )
        else:
            self.storage = LocalStorage()
        self._requests = MovingWindowRateLimiter(self.storage)
        self._errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)
        base = self.storage.base_exceptions
        self._errors += base if isinstance(base, tuple) else (base,)
        # RateLimitItem objects are immutable and cheap to share; build each limit once.
        self._items: dict[tuple[str, int], RateLimitItem] = {}

    def _item(self, kind: str, amount: int) -> RateLimitItem:
        item = self._items.get((kind, amount))
        if item is None:
            factory = RateLimitItemPerDay if kind == "day" else RateLimitItemPerMinute
            item = factory(amount, namespace=f"rg-{kind}")
            self._items[(kind, amount)] = item
        return item

    async def check(self) -> None:
        """Raise `ApiError` 503 when the storage is unreachable (used at startup and by /health)."""
        try:
            ok = await self.storage.check()
        except self._errors as exc:
            raise unavailable(
                f"rate limiter unreachable: {exc}", code="rate_limiter_unavailable"
            ) from exc
        if not ok:
            raise unavailable("rate limiter unreachable", code="rate_limiter_unavailable")

    async def admit(self, key_id: str, quota: Quota, reserve_tokens: int) -> Reservation:
        """Count one request and reserve `reserve_tokens` tokens, or refuse.

        Raises:
            ApiError: 429 with Retry-After when a limit is reached; 503 when the storage fails.
        """
        try:
            return await self._admit(key_id, quota, reserve_tokens)
        except ApiError:
            raise
        except self._errors as exc:
            raise unavailable(
                f"rate limiter unavailable ({type(exc).__name__}: {exc}); refusing rather than "
                "serving unmetered",
                code="rate_limiter_unavailable",
            ) from exc

    async def _admit(self, key_id: str, quota: Quota, reserve: int) -> Reservation:
        windows = [
            (self._item(kind, limit), what)
            for kind, limit, what in (
                ("tpm", quota.tpm, "tokens per minute"),
                ("day", quota.daily_tokens, "tokens per day"),
            )
            if limit is not None
        ]
        for item, what in windows:
            if reserve > item.amount:
                raise _too_many(
                    f"request too large for this key's quota: it may use up to {reserve} tokens "
                    f"(prompt bytes + max_tokens × n) but the limit is {item.amount} {what}; "
                    "lower max_tokens",
                    item.get_expiry(),
                    "quota_request_too_large",
                )
        # The request is counted first and tokens are reserved only once it is admitted: a
        # request refused for its rate must not hold token quota, even briefly.
        if quota.rpm is not None:
            rpm = self._item("rpm", quota.rpm)
            if not await self._requests.hit(rpm, key_id):
                stats = await self._requests.get_window_stats(rpm, key_id)
                raise _too_many(
                    f"rate limit reached: {quota.rpm} requests per minute for this key",
                    stats.reset_time - time.time(),
                    "rate_limit_requests",
                )
        counts = await self._all(
            [
                partial(self.storage.incr, item.key_for(key_id), item.get_expiry(), reserve)
                for item, _ in windows
            ]
        )
        over = [
            (item, what)
            for (item, what), count in zip(windows, counts, strict=True)
            if count > item.amount
        ]
        if over:
            await self._give_back([item for item, _ in windows], key_id, reserve)
            item, what = over[0]
            reset = await self.storage.get_expiry(item.key_for(key_id))
            raise _too_many(
                f"quota reached: {item.amount} {what} for this key",
                reset - time.time(),
                "quota_tokens_per_minute" if "minute" in what else "quota_tokens_per_day",
            )
        return Reservation(key_id, quota, reserve)

    async def _give_back(self, windows: list[RateLimitItem], key_id: str, amount: int) -> None:
        await self._all(
            [
                partial(self.storage.incr, item.key_for(key_id), item.get_expiry(), -amount)
                for item in windows
            ]
        )

    async def _all(self, steps: list[Step]) -> list[Any]:
        """Run storage updates: in Redis all at once (one round trip instead of one each); in
        memory one after the other (each takes microseconds, a task per update would cost
        more)."""
        if self.shared:
            return list(await asyncio.gather(*(step() for step in steps)))
        return [await step() for step in steps]

    async def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Replace the reservation by the tokens actually used (idempotent).

        A failure here is not fatal to a request already answered; the reservation (an upper
        bound) then stays counted, which errs on the side of the quota.
        """
        if reservation.settled:
            return
        reservation.settled = True
        delta = used_tokens - reservation.reserved
        if delta == 0:
            return
        quota = reservation.quota
        await self._all(
            [
                partial(self._settle_one, self._item(kind, limit), reservation.key_id, delta)
                for kind, limit in (("tpm", quota.tpm), ("day", quota.daily_tokens))
                if limit is not None
            ]
        )

    async def _settle_one(self, item: RateLimitItem, key_id: str, delta: int) -> None:
        try:
            await self.storage.incr(item.key_for(key_id), item.get_expiry(), delta)
        except self._errors:
            return

    async def aclose(self) -> None:
        if isinstance(self.storage, RedisStorage):
            client = getattr(self.storage.bridge, "storage", None)
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()


__all__ = ["Quota", "RateLimiter", "Reservation"]
