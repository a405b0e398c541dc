"""Research extraction budgets: floats per key per day, in the rate limiter's storage."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, RateLimitItemPerDay

from releasegate.gateway._errors import ApiError, unavailable
from releasegate.gateway._ratelimit import RateLimiter

log = logging.getLogger("releasegate.gateway")


class ExtractionBudget:
    """Floats per key per day, in the rate limiter's storage (memory, or Redis for a fleet).

    A fixed one-day window from a key's first research request, like the daily token quota.
    Reserving adds the request's floats and takes them back if the total would pass the budget,
    so concurrent requests can never jointly exceed it (each step is atomic in the storage).

    Args:
        limiter: the gateway's rate limiter, whose storage holds the counters.
    """

    def __init__(self, limiter: RateLimiter) -> None:
        self.storage = limiter.storage
        self._items: dict[int, RateLimitItem] = {}

    def _item(self, budget: int) -> RateLimitItem:
        item = self._items.get(budget)
        if item is None:
            item = RateLimitItemPerDay(max(budget, 1), namespace="rg-floats")
            self._items[budget] = item
        return item

    async def spend(self, key_id: str, budget: int | None, floats: int) -> int | None:
        """Reserve `floats` of the key's budget; returns what remains (None: no budget).

        Raises:
            ApiError: 429 (with Retry-After) when the floats would pass the budget, saying how
                many remain; 503 when the storage cannot be reached (fail closed).
        """
        if budget is None:
            return None
        item = self._item(budget)
        key = item.key_for(key_id)
        try:
            if floats == 0:
                return max(0, budget - int(await self.storage.get(key)))
            count = int(await self.storage.incr(key, item.get_expiry(), floats))
            if count <= budget:
                return budget - count
            await self.storage.incr(key, item.get_expiry(), -floats)
            reset = await self.storage.get_expiry(key)
        except Exception as exc:
            # The storage's error names Redis's host and port: the log has it, clients do not.
            log.warning("extraction budget storage failed: %s: %s", type(exc).__name__, exc)
            raise unavailable(
                "extraction budget unavailable; refusing rather than serving unmetered",
                code="rate_limiter_unavailable",
            ) from exc
        remaining = max(0, budget - (count - floats))
        raise ApiError(
            429,
            f"extraction budget exceeded: this request would return {floats:,} floats but only "
            f"{remaining:,} of this key's daily budget of {budget:,} floats remain; ask for fewer "
            "layers or tokens, pool the states, or retry when the budget resets",
            type="rate_limit_error",
            code="extraction_budget_exceeded",
            headers={"Retry-After": str(max(1, math.ceil(reset - time.time())))},
        )

    async def refund(self, key_id: str, budget: int | None, floats: int) -> None:
        """Give back floats reserved for a request that returned nothing (best effort)."""
        if budget is None or floats == 0:
            return
        item = self._item(budget)
        try:
            await self.storage.incr(item.key_for(key_id), item.get_expiry(), -floats)
        except Exception:  # the reservation (an upper bound) stays: errs on the budget's side
            return


__all__ = ["ExtractionBudget"]
