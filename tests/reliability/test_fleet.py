"""A fleet of three gateway processes on one PostgreSQL and one Redis: a key's quota is exact
under concurrent clients spread over the fleet, a revocation reaches every process within one
second, and when Redis or PostgreSQL becomes unavailable every process refuses with a clear 503
(never an answer that skipped the limits or the audit log) and serves again when it returns.

The fleet reaches both services through TCP proxies this test controls, so cutting them does
not touch the real servers other tests share."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from releasegate.audit import AuditLog
from releasegate.store import make_engine, make_session_factory
from tests.helpers.gateway import ADMIN, ADMIN_TOKEN, AUDIT_KEY, MODEL
from tests.helpers.gateway_proc import start_gateway
from tests.helpers.reliability import report, size
from tests.helpers.tcp_proxy import TcpProxy, tcp_proxy


def _via(url: str, proxy: TcpProxy) -> str:
    """`url` with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    auth = netloc[0] + "@" if len(netloc) == 2 else ""
    return parts._replace(netloc=f"{auth}127.0.0.1:{proxy.port}").geturl()


def _chat(text: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], "max_tokens": 8}


async def _post(client: httpx.AsyncClient, url: str, key: str, text: str = "hi") -> httpx.Response:
    return await client.post(
        url + "/v1/chat/completions", json=_chat(text), headers={"Authorization": f"Bearer {key}"}
    )


async def _new_key(
    client: httpx.AsyncClient, url: str, tier: str, **limits: int
) -> tuple[str, str]:
    body: dict[str, Any] = {"tier": tier, "owner": "fleet"}
    if limits:
        body["limits"] = limits
    r = await client.post(url + "/admin/keys", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()["key"], r.json()["id"]


async def _quota_is_exact(fleet: list[str], clients: int, quota: int) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=30) as client:
        key, _ = await _new_key(client, fleet[0], "public", rpm=quota)
        statuses: collections.Counter[int] = collections.Counter()
        per_client = max(3, (3 * quota) // clients + 1)  # well past the quota, within a minute

        async def one(i: int) -> None:
            for j in range(per_client):
                r = await _post(client, fleet[(i + j) % len(fleet)], key)
                statuses[r.status_code] += 1

        await asyncio.gather(*(one(i) for i in range(clients)))
    assert statuses[200] == quota, statuses
    assert set(statuses) == {200, 429}, statuses
    return dict(statuses)


async def _revocation_reaches_all(fleet: list[str]) -> float:
    async with httpx.AsyncClient(timeout=30) as client:
        key, key_id = await _new_key(client, fleet[0], "developer")
        for url in fleet:  # every process has the key cached now
            assert (await _post(client, url, key)).status_code == 200
        r = await client.post(fleet[1] + f"/admin/keys/{key_id}/revoke", headers=ADMIN)
        assert r.status_code == 200, r.text
        t0 = time.monotonic()
        pending = set(fleet)
        while pending:
            for url in list(pending):
                r = await _post(client, url, key)
                if r.status_code == 401:
                    pending.discard(url)
                else:
                    assert r.status_code == 200, r.text
            assert time.monotonic() - t0 < 5, f"still accepted by {pending}"
            await asyncio.sleep(0.02)
        return time.monotonic() - t0


async def _outage(fleet: list[str], proxy: TcpProxy, key: str, service: str) -> dict[str, Any]:
    """Cut `proxy`: every process answers 503 (nothing else) while it is down; restore it:
    every process answers 200 again. Returns what was seen."""
    async with httpx.AsyncClient(timeout=30) as client:
        for url in fleet:
            r = await _post(client, url, key, f"before the {service} outage")
            assert r.status_code == 200, r.text
        proxy.cut()
        codes: collections.Counter[str] = collections.Counter()
        statuses: collections.Counter[int] = collections.Counter()
        for round_ in range(5):
            for url in fleet:
                r = await _post(client, url, key, f"during the {service} outage {round_}")
                statuses[r.status_code] += 1
                if r.status_code == 503:
                    codes[r.json()["error"]["code"]] += 1
        proxy.restore()
        t0 = time.monotonic()
        pending = set(fleet)
        while pending and time.monotonic() - t0 < 30:
            for url in list(pending):
                r = await _post(client, url, key, f"after the {service} outage")
                if r.status_code == 200:
                    pending.discard(url)
                else:
                    assert r.status_code == 503, r.text
            await asyncio.sleep(0.1)
        resumed = time.monotonic() - t0
    assert statuses == {503: 5 * len(fleet)}, (service, statuses)
    assert not pending, f"{service} is back but {pending} still refuse after {resumed:.1f} s"
    return {"codes": dict(codes), "resumed_s": round(resumed, 2)}


@pytest.fixture
def fleet_env(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> Iterator[tuple[dict[str, str], TcpProxy, TcpProxy, str]]:
    pg, rd = urlsplit(postgres_url), urlsplit(redis_url)
    with (
        tcp_proxy(pg.hostname or "", pg.port or 5432) as pg_proxy,
        tcp_proxy(rd.hostname or "", rd.port or 6379) as redis_proxy,
    ):
        env = {
            "RELEASEGATE_DATA_DIR": str(tmp_path),
            "RELEASEGATE_DATABASE_URL": _via(postgres_url, pg_proxy),
            "RELEASEGATE_REDIS_URL": _via(redis_url, redis_proxy),
            "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        }
        yield env, pg_proxy, redis_proxy, postgres_url


@pytest.mark.reliability
@pytest.mark.postgres
@pytest.mark.redis
def test_a_fleet_of_three_shares_quotas_revokes_within_a_second_and_fails_closed(
    fleet_env: tuple[dict[str, str], TcpProxy, TcpProxy, str],
) -> None:
    n = size()
    env, pg_proxy, redis_proxy, postgres_url = fleet_env
    with ExitStack() as stack:
        # The tiers' own per-minute limits out of the way: the key's limit is the one tested.
        tiers = {"public": {"rpm": 100_000}, "developer": {"rpm": 100_000}}
        fleet = [stack.enter_context(start_gateway(env, tiers=tiers)) for _ in range(3)]

        async def go() -> dict[str, Any]:
            quota = await _quota_is_exact(fleet, n.fleet_clients, n.fleet_quota)
            revoked = [await _revocation_reaches_all(fleet) for _ in range(3)]
            async with httpx.AsyncClient(timeout=30) as client:
                key, _ = await _new_key(client, fleet[0], "developer")
            redis = await _outage(fleet, redis_proxy, key, "Redis")
            postgres = await _outage(fleet, pg_proxy, key, "PostgreSQL")
            return {"quota": quota, "revoked": revoked, "redis": redis, "postgres": postgres}

        seen = asyncio.run(go())

    engine = make_engine(postgres_url)
    try:
        verified = AuditLog(make_session_factory(engine), hmac_key=AUDIT_KEY.encode()).verify()
    finally:
        engine.dispose()
    report(
        "fleet",
        processes=3,
        clients=n.fleet_clients,
        quota=n.fleet_quota,
        statuses=seen["quota"],
        revocation_s=[round(s, 3) for s in seen["revoked"]],
        redis_outage=seen["redis"],
        postgres_outage=seen["postgres"],
        audit_records=verified.checked,
    )
    assert verified.ok, verified
    assert max(seen["revoked"]) <= 1.0, seen["revoked"]
