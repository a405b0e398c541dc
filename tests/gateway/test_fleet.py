"""Two real gateway processes on one PostgreSQL and one Redis share quotas, revocation (within
one second) and one audit chain."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from releasegate.audit import AuditLog
from releasegate.store import make_engine, make_session_factory
from tests.helpers.gateway import ADMIN, ADMIN_TOKEN, AUDIT_KEY, bearer, chat_body
from tests.helpers.gateway_proc import start_gateway


@pytest.mark.postgres
@pytest.mark.redis
def test_two_processes_share_quotas_revocation_and_audit_chain(
    tmp_path: Any, postgres_url: str, redis_url: str
) -> None:
    env = {
        "RELEASEGATE_DATA_DIR": str(tmp_path),
        "RELEASEGATE_DATABASE_URL": postgres_url,
        "RELEASEGATE_REDIS_URL": redis_url,
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
    }
    with start_gateway(env) as a, start_gateway(env) as b:

        async def go() -> None:
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.post(
                    a + "/admin/keys",
                    json={"tier": "public", "owner": "fleet", "limits": {"rpm": 12}},
                    headers=ADMIN,
                )
                assert r.status_code == 200, r.text
                key = r.json()["key"]

                # quotas: requests alternate between the two processes; the key's 12 requests
                # per minute are counted once for the fleet, not 12 per process
                statuses = []
                for i in range(30):
                    r = await client.post(
                        (a, b)[i % 2] + "/v1/chat/completions",
                        json=chat_body("hi"),
                        headers=bearer(key),
                    )
                    statuses.append(r.status_code)
                assert statuses == [200] * 12 + [429] * 18, statuses

                # revocation through process A is honoured by process B within one second
                r2 = await client.post(
                    a + "/admin/keys", json={"tier": "developer", "owner": "fleet"}, headers=ADMIN
                )
                key2, key2_id = r2.json()["key"], r2.json()["id"]
                ok = await client.post(
                    b + "/v1/chat/completions", json=chat_body(), headers=bearer(key2)
                )
                assert ok.status_code == 200  # B has the key cached now
                revoked = await client.post(a + f"/admin/keys/{key2_id}/revoke", headers=ADMIN)
                assert revoked.status_code == 200
                t0 = time.monotonic()
                while True:
                    r = await client.post(
                        b + "/v1/chat/completions", json=chat_body(), headers=bearer(key2)
                    )
                    if r.status_code == 401:
                        break
                    assert r.status_code == 200
                    await asyncio.sleep(0.02)
                assert time.monotonic() - t0 < 1.0

        asyncio.run(go())

    # one audit chain, no forks, written by both processes: verify it
    engine = make_engine(postgres_url)
    try:
        log = AuditLog(make_session_factory(engine), hmac_key=AUDIT_KEY.encode())
        result = log.verify()
        assert result.ok, result
        records = list(log.records())
        assert result.checked == len(records) >= 3 + 30 + 2
        assert sum(r.kind == "request" for r in records) >= 32
    finally:
        engine.dispose()
