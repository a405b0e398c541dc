"""Crash safety: a gateway process killed with SIGKILL under load (concurrent clients), again and
again, loses nothing it answered. After every restart the audit chain verifies; every response
a client received has its audit record (answers matched by their unique prompt, refusals by
count); and the key's daily token quota, kept in Redis, never admits more than it allows, across
restarts."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from releasegate.audit import AuditLog
from releasegate.store import make_engine, make_session_factory
from tests.helpers.gateway import ADMIN, ADMIN_TOKEN, AUDIT_KEY, MODEL
from tests.helpers.gateway_proc import REPO, free_port
from tests.helpers.reliability import report, size


def _start(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.gateway_proc", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited with {proc.returncode} while starting")
        try:
            if httpx.get(url + "/v1/models", timeout=1).status_code == 401:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the gateway did not answer within 60 s")
        time.sleep(0.05)


class Load:
    """What the clients received: answered prompts with their token usage, statuses counted."""

    def __init__(self) -> None:
        self.answered: dict[str, int] = {}  # unique prompt -> total_tokens of its 200
        self.statuses: collections.Counter[int] = collections.Counter()
        self.broken = 0  # requests that got no complete response (the kill)
        self.errors: collections.Counter[str] = collections.Counter()

    async def client(self, url: str, key: str, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            while not stop.is_set():
                prompt = f"crash {uuid.uuid4().hex}"
                body = {
                    "model": MODEL,
                    "messages": [{"role": "user", "content": prompt}],
                    "max_tokens": 8,
                }
                try:
                    r = await http.post(
                        url + "/v1/chat/completions",
                        json=body,
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    data = r.json()
                except (httpx.HTTPError, ValueError) as exc:
                    self.errors[type(exc).__name__] += 1
                    self.broken += 1
                    await asyncio.sleep(0.01)
                    continue
                self.statuses[r.status_code] += 1
                if r.status_code == 200:
                    self.answered[prompt] = int(data["usage"]["total_tokens"])


async def _load_then_kill(
    url: str, key: str, proc: subprocess.Popen[bytes], clients: int, load: Load
) -> None:
    stop = asyncio.Event()
    before = load.statuses.total()
    tasks = [asyncio.create_task(load.client(url, key, stop)) for _ in range(clients)]
    # Under way first (a slow shared machine takes seconds to answer the first wave), then at
    # a random moment: mid-request for most of the clients.
    deadline = time.monotonic() + 30
    while load.statuses.total() < before + clients and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(random.uniform(0.0, 1.0))
    proc.send_signal(signal.SIGKILL)
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.gather(*tasks)


def _records(database: str) -> tuple[Any, list[Any]]:
    engine = make_engine(database)
    try:
        log = AuditLog(make_session_factory(engine), hmac_key=AUDIT_KEY.encode())
        return log.verify(), list(log.records())
    finally:
        engine.dispose()


@pytest.mark.reliability
@pytest.mark.redis
def test_kill_9_under_load_loses_no_answered_record_and_never_over_admits(
    tmp_path: Path, redis_url: str
) -> None:
    n = size()
    # Daily tokens: spent within the first cycle (an answer uses 5, a request reserves ≈30), so
    # the later cycles test that a restarted process still counts what was spent.
    quota = 600
    env = {
        "RELEASEGATE_DATA_DIR": str(tmp_path / "data"),
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        "RELEASEGATE_AUDIT_STORE_CONTENT": "full",  # to match each answer to its record
        "RELEASEGATE_REDIS_URL": redis_url,  # the quota outlives the process
    }
    database = f"sqlite:///{tmp_path / 'data' / 'releasegate.db'}"
    load = Load()
    proc, url = _start(env)
    try:
        r = httpx.post(
            url + "/admin/keys",
            json={"tier": "developer", "owner": "crash", "limits": {"daily_tokens": quota}},
            headers=ADMIN,
        )
        assert r.status_code == 200, r.text
        key = r.json()["key"]
        for cycle in range(n.crash_kills):
            if cycle:
                proc, url = _start(env)
                verified, _ = _records(database)
                assert verified.ok, f"after restart {cycle}: {verified}"
            asyncio.run(_load_then_kill(url, key, proc, n.crash_clients, load))
            proc.wait(timeout=10)
            assert proc.returncode == -signal.SIGKILL
        proc, url = _start(env)  # a last restart: recovery, then one more request
        again = httpx.post(
            url + "/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": f"crash {uuid.uuid4().hex}"}],
                "max_tokens": 8,
            },
            headers={"Authorization": f"Bearer {key}"},
        )
    finally:
        proc.kill()
        proc.wait(timeout=10)

    verified, records = _records(database)
    assert verified.ok, verified
    requests = [r for r in records if r.kind == "request"]
    audited_prompts = set()
    audited_statuses: collections.Counter[int] = collections.Counter()
    for record in requests:
        audited_statuses[record.payload["status"]] += 1
        for message in (record.payload.get("content") or {}).get("prompt") or []:
            audited_prompts.add(message["content"])
    missing = [p for p in load.answered if p not in audited_prompts]
    spent = sum(load.answered.values())
    report(
        "crash",
        kills=n.crash_kills,
        clients=n.crash_clients,
        answered=len(load.answered),
        refused_429=load.statuses[429],
        broken_by_kill=load.broken,
        errors=dict(load.errors),
        audit_records=verified.checked,
        missing_records=len(missing),
        tokens_admitted=spent,
        quota=quota,
    )
    assert not missing, f"{len(missing)} answered requests have no audit record: {missing[:5]}"
    assert again.status_code == 429, again.text  # the spent quota survived every kill
    for status, received in load.statuses.items():
        assert audited_statuses[status] >= received, (status, received, audited_statuses)
    assert load.answered, "no request was answered: the load never reached the gateway"
    assert load.statuses[429] > 0, "the quota was never reached: the test proves nothing"
    assert spent <= quota, f"admitted {spent} tokens against a daily quota of {quota}"
