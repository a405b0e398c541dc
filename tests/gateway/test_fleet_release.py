"""Two real `releasegate serve` processes on one PostgreSQL and one Redis, serving one signed
decision: a fired reassessment trigger steps both down to the fallback, and a signed halt
closes both, each within one second of its commit (measured, printed)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from releasegate.approvals import DecisionRegistry, announce, fire_trigger
from releasegate.audit import AuditLog
from releasegate.evidence import example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import ADMIN, ADMIN_TOKEN, AUDIT_KEY, bearer, fresh
from tests.helpers.openai_server import serve_fake_upstream
from tests.helpers.serve_proc import serve_process
from tests.helpers.signing import approve, at_level, for_model, signers
from tests.helpers.stores import migrated_store

MODEL = "fake-model"


async def _closed_after(
    urls: list[str], key: str, t0: float, code: str, limit_s: float = 5.0
) -> dict[str, float]:
    """Poll every gateway until `key` gets 403 `code`; seconds after t0 for each."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        while len(seen) < len(urls) and time.monotonic() - t0 < limit_s:
            for url in urls:
                if url in seen:
                    continue
                r = await client.post(url + "/v1/chat/completions", json=body, headers=bearer(key))
                if r.status_code == 403:
                    assert r.json()["error"]["code"] == code, r.text
                    seen[url] = time.monotonic() - t0
                else:
                    assert r.status_code == 200, r.text
            await asyncio.sleep(0.01)
    return seen


def _chat(url: str, key: str) -> int:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=bearer(key)).status_code


@pytest.mark.postgres
@pytest.mark.redis
def test_a_trigger_and_a_halt_reach_two_gateways_within_a_second(
    tmp_path: Path, postgres_url: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with migrated_store(postgres_url) as (_engine, sessions), serve_fake_upstream() as upstream:
        spec = f"openai:{upstream.base_url}#{MODEL}"
        report = fresh(load_report(example_report_path("low-risk")))
        decision = decide(report, load_policy(bundled_policy_path("default")))
        decision = for_model(
            at_level(decision, AccessLevel.RESEARCH_API), spec, f"declared:{MODEL}"
        )
        people = signers(sessions, tmp_path / "keys")
        record = approve(sessions, decision, people)
        audit = AuditLog(sessions, hmac_key=AUDIT_KEY.encode())
        env = {
            "RELEASEGATE_DATA_DIR": str(tmp_path / "data"),
            "RELEASEGATE_DATABASE_URL": postgres_url,
            "RELEASEGATE_REDIS_URL": redis_url,
            "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        }
        args = ["serve", "--model", spec, "--decision", record.id]
        with (
            serve_process(args, env, tmp_path) as a,
            serve_process(args, env, tmp_path) as b,
        ):
            urls = [a.url, b.url]

            def key(tier: str) -> str:
                r = httpx.post(
                    a.url + "/admin/keys", json={"tier": tier, "owner": "f"}, headers=ADMIN
                )
                assert r.status_code == 200, r.text
                return str(r.json()["key"])

            researcher, public = key("researcher"), key("public")
            for url in urls:  # both serve both tiers; their key caches are warm
                assert _chat(url, researcher) == 200 and _chat(url, public) == 200

            # A confirmed flaw fires the decision's trigger (no Redis notice: the poll alone).
            fire_trigger(
                sessions, audit, record.id, kind="flaw_report", reason="FR-1 confirmed", actor="t"
            )
            t0 = time.monotonic()
            stepped = asyncio.run(_closed_after(urls, researcher, t0, "reassessment_required"))
            for url in urls:  # the api tiers stay open at the fallback
                assert _chat(url, public) == 200

            # Carol halts it, signed; the CLI's Redis notice wakes the gateways at once.
            carol = people["security_lead"]
            DecisionRegistry(sessions, audit).sign(
                record.id, "halt", role="security_lead", by="Carol", key=carol.key, reason="stop"
            )
            announce(redis_url)
            t1 = time.monotonic()
            halted = asyncio.run(_closed_after(urls, public, t1, "decision_halted"))

        with capsys.disabled():
            print(
                "\nfleet of 2 on PostgreSQL + Redis: trigger -> researcher tier closed after "
                + ", ".join(f"{s * 1000:.0f} ms" for s in stepped.values())
                + "; halt -> public tier closed after "
                + ", ".join(f"{s * 1000:.0f} ms" for s in halted.values())
            )
        assert set(stepped) == set(urls) and max(stepped.values()) < 1.0, stepped
        assert set(halted) == set(urls) and max(halted.values()) < 1.0, halted
        assert audit.verify().ok
