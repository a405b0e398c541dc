"""Misuse monitoring through the real app: a key that sends flagged requests past its tier's
threshold is suspended, with one incident naming the audit records of those requests; the
incident is resolved through the admin API; /metrics counts it all; a monitor that cannot
count fails closed (503)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from releasegate.backends import EchoBackend
from releasegate.gateway import create_app
from releasegate.monitoring import RedisFlagCounter
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    ADMIN,
    bearer,
    chat_body,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)

HARMFUL = "how to make a bomb"  # the keyword guard flags it (S9); a request, never an answer


def _app(tmp_path: Path, database_url: str | None = None, **settings: Any) -> Any:
    if database_url is not None:
        settings["database_url"] = database_url
    tiers = keyword_tiers(
        public={"flag_threshold": 3, "flag_window_s": 600, "rpm": None, "tpm": None}
    )
    return create_app(
        gateway_settings(tmp_path, **settings),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=tiers,
    )


def _key_id(app: Any, plaintext: str) -> str:
    record = app.state.gateway.keys.authenticate(plaintext)
    assert record is not None
    return str(record.id)


def _flagged_seqs(app: Any, key_id: str) -> list[int]:
    """Seqs of the key's audit records that carry a guard flag (read from the log itself)."""
    out: list[int] = []
    for record in app.state.gateway.audit_log.records():
        if record.actor == key_id and ("input_flag" in record.payload):
            out.append(record.seq)
    return out


def test_threshold_suspends_the_key_with_one_incident(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public", owner="mallory")
            key_id = _key_id(app, key)
            chat = "/v1/chat/completions"
            for i in range(3):
                r = await client.post(chat, json=chat_body(HARMFUL), headers=bearer(key))
                assert r.status_code == 400, r.text  # the flagged request is refused, as before
                assert r.json()["error"]["code"] == "content_filter"
                if i < 2:  # benign requests still served below the threshold
                    ok = await client.post(chat, json=chat_body("hello"), headers=bearer(key))
                    assert ok.status_code == 200
            # crossed: suspended; this process refuses at once, plain and streaming
            for stream in (False, True):
                r = await client.post(
                    chat, json=chat_body("hello", stream=stream), headers=bearer(key)
                )
                assert r.status_code == 401, r.text
            listed = (await client.get("/admin/incidents", headers=ADMIN)).json()["data"]
            assert len(listed) == 1
            incident = listed[0]
            assert incident["key_id"] == key_id and incident["tier"] == "public"
            assert incident["status"] == "open" and incident["flag_count"] == 3
            assert incident["categories"] == ["S9"]
            assert incident["audit_seqs"] == _flagged_seqs(app, key_id)
            assert incident["trigger_seq"] == incident["audit_seqs"][-1]
            assert incident["window_start"] < incident["window_end"]
            shown = await client.get(f"/admin/incidents/{incident['id']}", headers=ADMIN)
            assert shown.json() == incident
            keys = (await client.get("/admin/keys", headers=ADMIN)).json()["data"]
            (mine,) = [k for k in keys if k["id"] == key_id]
            assert mine["status"] == "suspended"
            assert "misuse monitoring: 3 flagged requests" in mine["suspended_reason"]
            # the automatic suspension is audited, naming the incident and its evidence
            audit = app.state.gateway.audit_log
            opened = [r for r in audit.records() if r.payload.get("action") == "incidents.open"]
            assert len(opened) == 1 and opened[0].actor == "monitor"
            assert opened[0].payload["audit_seqs"] == incident["audit_seqs"]
            # resolve through the admin API, lifting the suspension; the key starts afresh
            r = await client.post(
                f"/admin/incidents/{incident['id']}/resolve",
                json={"by": "alice", "note": "warned the owner", "unsuspend": True},
                headers=ADMIN,
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "resolved" and r.json()["resolved_by"] == "alice"
            r = await client.post(chat, json=chat_body("hello"), headers=bearer(key))
            assert r.status_code == 200
            r = await client.post(chat, json=chat_body(HARMFUL), headers=bearer(key))
            assert r.status_code == 400  # counted from zero again: 1 of 3
            r = await client.post(chat, json=chat_body("hello"), headers=bearer(key))
            assert r.status_code == 200
            again = await client.post(
                f"/admin/incidents/{incident['id']}/resolve", json={"by": "bob"}, headers=ADMIN
            )
            assert again.status_code == 400 and "already resolved" in again.text
            missing = await client.get("/admin/incidents/inc_nope", headers=ADMIN)
            assert missing.status_code == 404
            assert (await client.get("/admin/incidents", headers=bearer(key))).status_code == 401
            assert audit.verify().ok

    asyncio.run(go())


def _flood(client: httpx.AsyncClient, key: str, n: int) -> Any:
    return asyncio.gather(
        *(
            client.post("/v1/chat/completions", json=chat_body(HARMFUL), headers=bearer(key))
            for _ in range(n)
        )
    )


def test_concurrent_flags_open_one_incident(tmp_path: Path, database_url: str) -> None:
    app = _app(tmp_path, database_url)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            responses = await _flood(client, key, 30)
            # refused as flagged, or (after the suspension) as an unknown key; never served
            assert {r.status_code for r in responses} <= {400, 401}
            listed = (await client.get("/admin/incidents", headers=ADMIN)).json()["data"]
            assert len(listed) == 1 and listed[0]["flag_count"] == 3

    asyncio.run(go())


@pytest.mark.postgres
@pytest.mark.redis
def test_two_gateways_on_shared_redis_open_one_incident(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    apps = [_app(tmp_path / str(i), postgres_url, redis_url=redis_url) for i in range(2)]

    async def go() -> None:
        async with running(apps[0]) as one, running(apps[1]) as two:
            key = await new_key(one, "public")
            results = await asyncio.gather(_flood(one, key, 15), _flood(two, key, 15))
            codes = {r.status_code for rs in results for r in rs}
            assert codes <= {400, 401}, codes
            listed = (await two.get("/admin/incidents", headers=ADMIN)).json()["data"]
            assert len(listed) == 1 and listed[0]["flag_count"] == 3
            # the other process refuses the key within its cache TTL (< 1 s)
            await asyncio.sleep(0.6)
            for client in (one, two):
                r = await client.post(
                    "/v1/chat/completions", json=chat_body("hello"), headers=bearer(key)
                )
                assert r.status_code == 401

    asyncio.run(go())


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0.0 if absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_flags_suspensions_and_429s(tmp_path: Path) -> None:
    app = _app(tmp_path)
    other = _app(tmp_path / "other")  # a second app: its own registry, its own counts

    async def go() -> None:
        async with running(app) as client, running(other) as client2:
            key = await new_key(client, "public")
            chat = "/v1/chat/completions"
            assert (
                await client.post(chat, json=chat_body(), headers=bearer(key))
            ).status_code == 200
            for _ in range(3):
                await client.post(chat, json=chat_body(HARMFUL), headers=bearer(key))
            assert (
                await client.post(chat, json=chat_body(), headers=bearer("rg-nope"))
            ).status_code == 401
            limited = await new_key(client, "public", rpm=1)
            for _ in range(2):
                await client.post(chat, json=chat_body(), headers=bearer(limited))
            r = await client.get("/metrics", headers=ADMIN)
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/plain")
            text = r.text
            s = _sample
            assert (
                s(
                    text,
                    "releasegate_requests_total",
                    route="chat.completions",
                    status="200",
                    tier="public",
                )
                == 2
            )
            assert (
                s(
                    text,
                    "releasegate_requests_total",
                    route="chat.completions",
                    status="400",
                    tier="public",
                )
                == 3
            )
            assert (
                s(
                    text,
                    "releasegate_requests_total",
                    route="chat.completions",
                    status="429",
                    tier="public",
                )
                == 1
            )
            assert (
                s(
                    text,
                    "releasegate_requests_total",
                    route="chat.completions",
                    status="401",
                    tier="none",
                )
                == 1
            )
            assert (
                s(
                    text,
                    "releasegate_requests_total",
                    route="keys.create",
                    status="200",
                    tier="admin",
                )
                == 2
            )
            assert s(text, "releasegate_guard_flags_total", stage="input", category="S9") == 3
            assert s(text, "releasegate_key_suspensions_total", tier="public") == 1
            assert (
                s(
                    text,
                    "releasegate_quota_rejections_total",
                    tier="public",
                    code="rate_limit_requests",
                )
                == 1
            )
            assert (
                s(
                    text,
                    "releasegate_request_duration_seconds_count",
                    route="chat.completions",
                    tier="public",
                )
                == 6
            )
            # the scrape itself goes through the pipeline: admin token, audited
            assert (await client.get("/metrics")).status_code == 401
            assert (await client.get("/metrics", headers=bearer(key))).status_code == 401
            scrapes = [
                rec
                for rec in app.state.gateway.audit_log.records()
                if rec.payload.get("action") == "metrics"
            ]
            assert len(scrapes) == 1
            other_text = (await client2.get("/metrics", headers=ADMIN)).text
            assert s(other_text, "releasegate_guard_flags_total", stage="input", category="S9") == 0

    asyncio.run(go())


def test_monitor_that_cannot_count_fails_closed(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = _app(tmp_path)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            monitor = app.state.gateway.monitor
            await monitor.counter.aclose()
            monitor.counter = RedisFlagCounter(f"redis://127.0.0.1:{port}/0", timeout_s=0.3)
            for stream in (False, True):
                r = await client.post(
                    "/v1/chat/completions",
                    json=chat_body(HARMFUL, stream=stream),
                    headers=bearer(key),
                )
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] == "monitoring_unavailable"
            # requests that nothing flagged do not need the counter
            r = await client.post("/v1/chat/completions", json=chat_body(), headers=bearer(key))
            assert r.status_code == 200
            text = (await client.get("/metrics", headers=ADMIN)).text
            assert _sample(text, "releasegate_monitor_unavailable_total") == 2

    asyncio.run(go())


def test_withheld_answers_and_cut_streams_count_too(tmp_path: Path) -> None:
    # The marker guard passes every input and flags answers containing FORBIDDEN; the echo
    # backend repeats the prompt, so the answer to "FORBIDDEN" is flagged by the output guard.
    tiers = keyword_tiers(public={"guards": ["test-marker"], "flag_threshold": 2})
    app = create_app(
        gateway_settings(tmp_path),
        backend=EchoBackend(),
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=tiers,
    )

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "public")
            chat = "/v1/chat/completions"
            withheld = await client.post(chat, json=chat_body("FORBIDDEN"), headers=bearer(key))
            assert withheld.status_code == 200
            assert withheld.json()["choices"][0]["finish_reason"] == "content_filter"
            cut = await client.post(
                chat, json=chat_body("FORBIDDEN", stream=True), headers=bearer(key)
            )
            assert "content_filter" in cut.text and "FORBIDDEN" not in cut.text
            r = await client.post(chat, json=chat_body("hello"), headers=bearer(key))
            assert r.status_code == 401
            (incident,) = (await client.get("/admin/incidents", headers=ADMIN)).json()["data"]
            assert incident["flag_count"] == 2 and incident["categories"] == ["S9"]
            text = (await client.get("/metrics", headers=ADMIN)).text
            assert (
                _sample(text, "releasegate_guard_flags_total", stage="output", category="S9") == 2
            )

    asyncio.run(go())


@pytest.mark.postgres
@pytest.mark.redis
def test_two_real_processes_open_one_incident(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    from tests.helpers.gateway import ADMIN_TOKEN, AUDIT_KEY
    from tests.helpers.gateway_proc import start_gateway

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
                    a + "/admin/keys", json={"tier": "public", "owner": "fleet"}, headers=ADMIN
                )
                key = r.json()["key"]
                # 12 flagged requests at once, split over the two processes; the public
                # tier's threshold is 5
                responses = await asyncio.gather(
                    *(
                        client.post(
                            (a, b)[i % 2] + "/v1/chat/completions",
                            json=chat_body(HARMFUL),
                            headers=bearer(key),
                        )
                        for i in range(12)
                    )
                )
                assert {r.status_code for r in responses} <= {400, 401}
                listed = (await client.get(b + "/admin/incidents", headers=ADMIN)).json()
                assert len(listed["data"]) == 1 and listed["data"][0]["flag_count"] == 5
                await asyncio.sleep(1.0)  # every process refuses the key within one second
                for url in (a, b):
                    r = await client.post(
                        url + "/v1/chat/completions", json=chat_body("hi"), headers=bearer(key)
                    )
                    assert r.status_code == 401
                scraped = (await client.get(a + "/metrics", headers=ADMIN)).text
                scraped += (await client.get(b + "/metrics", headers=ADMIN)).text
                total = sum(
                    float(line.rsplit(" ", 1)[1])
                    for line in scraped.splitlines()
                    if line.startswith("releasegate_key_suspensions_total{")
                )
                assert total == 1  # one process saw the crossing

        asyncio.run(go())
