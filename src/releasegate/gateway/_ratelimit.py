"""Rate limits and token quotas per key, with the `limits` library.

- requests per minute: a moving window (exact: a request is admitted only if fewer than `rpm`
  were admitted in the last 60 s);
- tokens per minute and tokens per day: fixed windows that start at a key's first use, in
  `_windows`. A request reserves its worst case up front (prompt bytes +
  `max_tokens` × `n`: a token is never shorter than one byte) in every window at once, and gives
  back what it did not use when it ends, to the very windows it reserved in (never to the next
  one, which a request straddling a boundary would otherwise drive below zero). So concurrent
  requests can never jointly pass a quota, and the counters end up holding exactly the tokens
  used.

In memory for one process (`LocalStorage`, a constant-time storage for `limits`, and
`MemoryWindows`): exact for that process, but forgotten when it restarts, and not shared with
other processes. Redis (`RELEASEGATE_REDIS_URL`) for a fleet, where the counters are shared by
every gateway process and updated by Lua scripts, atomically, on the Redis server's clock. If
the storage cannot be reached the request is refused with 503: no limiter, no service.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from releasegate.gateway._errors import ApiError, unavailable
from releasegate.gateway._localstore import LocalStorage
from releasegate.gateway._windows import MemoryWindows, QuotaWindows, RedisWindows, Window

log = logging.getLogger("releasegate.gateway")


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
    windows: tuple[tuple[str, int], ...] = ()  # the exact windows (name, start) reserved in
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
        self.windows: QuotaWindows
        if redis_url is not None:
            import redis.asyncio as aioredis

            self.windows = RedisWindows(
                aioredis.Redis.from_url(
                    redis_url.removeprefix("async+"),
                    socket_connect_timeout=timeout_s,
                    socket_timeout=timeout_s,
                ),
                prefix=prefix,
            )
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
            self.windows = MemoryWindows(prefix=prefix)
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
            log.warning("rate limiter unreachable: %s: %s", type(exc).__name__, exc)
            raise unavailable("rate limiter unreachable", code="rate_limiter_unavailable") from exc
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
            # Redis's error names its host and port: the log has it, clients do not.
            log.warning("rate limiter unavailable: %s: %s", type(exc).__name__, exc)
            raise unavailable(
                "rate limiter unavailable; refusing rather than serving unmetered",
                code="rate_limiter_unavailable",
            ) from exc

    async def _admit(self, key_id: str, quota: Quota, reserve: int) -> Reservation:
        windows = [
            (Window(kind, limit, period), what)
            for kind, limit, period, what in (
                ("tpm", quota.tpm, 60, "tokens per minute"),
                ("day", quota.daily_tokens, 86_400, "tokens per day"),
            )
            if limit is not None
        ]
        for window, what in windows:
            if reserve > window.limit:
                raise _too_many(
                    f"request too large for this key's quota: it may use up to {reserve} tokens "
                    f"(prompt bytes + max_tokens × n) but the limit is {window.limit} {what}; "
                    "lower max_tokens",
                    window.period_s,
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
        if not windows:
            return Reservation(key_id, quota, reserve)
        admission = await self.windows.admit(key_id, [w for w, _ in windows], reserve)
        if admission.over is not None:
            window, what = windows[admission.over]
            raise _too_many(
                f"quota reached: {window.limit} {what} for this key",
                admission.retry_after_s,
                "quota_tokens_per_minute" if window.kind == "tpm" else "quota_tokens_per_day",
            )
        return Reservation(key_id, quota, reserve, admission.marks)

    async def tokens_used(self, key_id: str, kind: str, limit: int) -> int:
        """Tokens counted in the current `kind` ("tpm" or "day") window of a key."""
        period = 60 if kind == "tpm" else 86_400
        return await self.windows.used(key_id, Window(kind, limit, period))

    async def refuse_if_exhausted(self, name: str, who: str, quota: Quota, code: str) -> None:
        """Refuse with 429 when `who` already made `quota.rpm` attempts of kind `name` in the
        last minute (counted by `count_attempt`); the check itself counts nothing.

        Raises:
            ApiError: 429 with Retry-After; 503 when the storage fails.
        """
        assert quota.rpm is not None
        item = self._item(f"{name}-rpm", quota.rpm)
        try:
            if await self._requests.test(item, who):
                return
            stats = await self._requests.get_window_stats(item, who)
        except self._errors as exc:
            log.warning("rate limiter unavailable: %s: %s", type(exc).__name__, exc)
            raise unavailable(
                "rate limiter unavailable; refusing rather than serving unmetered",
                code="rate_limiter_unavailable",
            ) from exc
        raise _too_many(
            f"too many failed attempts from this address: {quota.rpm} per minute; wait and "
            "check the credentials",
            stats.reset_time - time.time(),
            code,
        )

    async def count_attempt(self, name: str, who: str, quota: Quota) -> None:
        """Count one (failed) attempt of kind `name` by `who` in its moving one-minute window.

        Raises:
            ApiError: 503 when the storage fails.
        """
        assert quota.rpm is not None
        try:
            await self._requests.hit(self._item(f"{name}-rpm", quota.rpm), who)
        except self._errors as exc:
            log.warning("rate limiter unavailable: %s: %s", type(exc).__name__, exc)
            raise unavailable(
                "rate limiter unavailable; refusing rather than serving unmetered",
                code="rate_limiter_unavailable",
            ) from exc

    async def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Replace the reservation by the tokens actually used (idempotent), in the windows it
        was reserved in.

        A failure here is not fatal to a request already answered; the reservation (an upper
        bound) then stays counted, which errs on the side of the quota.
        """
        if reservation.settled:
            return
        reservation.settled = True
        delta = used_tokens - reservation.reserved
        if delta == 0 or not reservation.windows:
            return
        try:
            await self.windows.adjust(reservation.windows, delta)
        except self._errors as exc:
            log.warning("could not settle a token reservation: %s", exc)

    async def aclose(self) -> None:
        if isinstance(self.windows, RedisWindows):
            await self.windows.aclose()
        if isinstance(self.storage, RedisStorage):
            client = getattr(self.storage.bridge, "storage", None)
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()


__all__ = ["Quota", "RateLimiter", "Reservation"]
