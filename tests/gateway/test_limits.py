"""Rate limits and token quotas are exact under 50 concurrent clients, in memory and on Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from releasegate.backends import EchoBackend
from releasegate.gateway import create_app
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    bearer,
    chat_body,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)

CLIENTS = 50


@pytest.fixture(params=["memory", "redis"])
def limiter_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_url")}
    return {}


def test_exact_limits_with_50_concurrent_clients(
    tmp_path: Path, limiter_settings: dict[str, Any]
) -> None:
    backend = EchoBackend(delay_s=0.01)  # requests overlap for real
    app = create_app(
        gateway_settings(tmp_path, **limiter_settings),
        backend=backend,
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(),
    )

    async def go() -> None:
        async with running(app) as client:
            # requests per minute: exactly the key's rpm pass, the rest get 429 + Retry-After
            key = await new_key(client, "public", rpm=17)
            responses = await asyncio.gather(
                *(
                    client.post("/v1/chat/completions", json=chat_body("hi"), headers=bearer(key))
                    for _ in range(CLIENTS)
                )
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses.count(200) == 17, statuses
            assert statuses.count(429) == CLIENTS - 17
            refused = [r for r in responses if r.status_code == 429]
            assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
            assert refused[0].json()["error"]["code"] == "rate_limit_requests"

            # tokens per minute: each request reserves 2 + 8 (prompt bytes + framing) +
            # max_tokens 10 = 20 tokens and uses 3; concurrent requests can never jointly pass
            # the quota, and the counter ends holding exactly the tokens used.
            key2 = await new_key(client, "public", tpm=200)
            body = chat_body("hi", max_tokens=10)
            responses = await asyncio.gather(
                *(
                    client.post("/v1/chat/completions", json=body, headers=bearer(key2))
                    for _ in range(CLIENTS)
                )
            )
            ok = [r for r in responses if r.status_code == 200]
            refused = [r for r in responses if r.status_code != 200]
            assert all(r.status_code == 429 for r in refused)
            # rpm 20 (the tier's) also applies: at most 20 pass; at least the 10 that fit in
            # the token quota at once
            assert 10 <= len(ok) <= 20, len(ok)
            used = sum(r.json()["usage"]["total_tokens"] for r in ok)
            limiter = app.state.gateway.pipeline.limiter
            record = app.state.gateway.keys.list()[-1]
            assert await limiter.tokens_used(record.id, "tpm", 200) == used
            codes = {r.json()["error"]["code"] for r in refused}
            assert codes <= {"quota_tokens_per_minute", "rate_limit_requests"}

            # a single request larger than the quota is refused outright, naming the numbers
            r = await client.post(
                "/v1/chat/completions",
                json=chat_body("hi", max_tokens=250),
                headers=bearer(await new_key(client, "public", tpm=100)),
            )
            assert r.status_code == 429
            assert "lower max_tokens" in r.json()["error"]["message"]

    asyncio.run(go())
