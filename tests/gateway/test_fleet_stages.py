"""A staged release run end to end through the CLI and the HTTP API, against two real
`releasegate serve` processes on one PostgreSQL and one Redis: a promotion refused for each
kind of unmet gate item, then allowed (the tier opens on both gateways within a second), and a
misuse incident made by real traffic rolling the stage back on both within a second (measured,
printed)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from releasegate.approvals import DecisionRecord, fire_trigger
from releasegate.evidence import example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.stages import sign_stage
from releasegate.vocab import AccessLevel
from tests.helpers.cli import Result, run_subprocess
from tests.helpers.gateway import ADMIN, ADMIN_TOKEN, AUDIT_KEY, bearer, fresh
from tests.helpers.openai_server import serve_fake_upstream
from tests.helpers.serve_proc import serve_process
from tests.helpers.signing import Person, approve, at_level, audit_log, for_model, signers
from tests.helpers.stages import plan_file, through_report
from tests.helpers.stores import migrated_store

MODEL = "fake-model"
HARMFUL = "how to make a bomb"  # the keyword guard flags it (S9); a request, never an answer
ROLES = ["release_lead", "safety_lead", "security_lead"]


def _chat(url: str, key: str, text: str = "hi") -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=bearer(key), timeout=10)


def _key(url: str, tier: str, owner: str) -> tuple[str, str]:
    r = httpx.post(url + "/admin/keys", json={"tier": tier, "owner": owner}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return str(r.json()["key"]), str(r.json()["id"])


async def _until(
    urls: list[str], key: str, t0: float, want: int, code: str | None, limit_s: float = 5.0
) -> dict[str, float]:
    """Poll each gateway with `key` until it answers `want` (with error `code`); seconds
    after t0 for each."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        while len(seen) < len(urls) and time.monotonic() - t0 < limit_s:
            for url in urls:
                if url in seen:
                    continue
                r = await client.post(url + "/v1/chat/completions", json=body, headers=bearer(key))
                if r.status_code == want:
                    if code is not None:
                        assert r.json()["error"]["code"] == code, r.text
                    seen[url] = time.monotonic() - t0
            await asyncio.sleep(0.01)
    return seen


def _setup(
    sessions: sessionmaker[Session], tmp_path: Path, spec: str
) -> tuple[DecisionRecord, dict[str, Person]]:
    report = fresh(load_report(example_report_path("low-risk")))
    decision = decide(report, load_policy(bundled_policy_path("default")))
    decision = for_model(at_level(decision, AccessLevel.RESEARCH_API), spec, f"declared:{MODEL}")
    people = signers(sessions, tmp_path / "keys")
    return approve(sessions, decision, people), people


def _env(tmp_path: Path, postgres_url: str, redis_url: str) -> dict[str, str]:
    return {
        "RELEASEGATE_DATA_DIR": str(tmp_path / "data"),
        "RELEASEGATE_DATABASE_URL": postgres_url,
        "RELEASEGATE_REDIS_URL": redis_url,
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
    }


def _cli(args: list[str], tmp_path: Path, env: dict[str, str]) -> Result:
    return run_subprocess(args, tmp_path, env=env)


def _unmet(result: Result) -> set[str]:
    return {
        line.strip()[2:].split(":")[0]
        for line in result.err.splitlines()
        if line.strip().startswith("- ")
    }


@pytest.mark.postgres
@pytest.mark.redis
def test_promotion_refused_for_each_unmet_item_then_allowed_across_a_fleet(
    tmp_path: Path, postgres_url: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with migrated_store(postgres_url) as (_engine, sessions), serve_fake_upstream() as upstream:
        spec = f"openai:{upstream.base_url}#{MODEL}"
        record, people = _setup(sessions, tmp_path, spec)
        env = _env(tmp_path, postgres_url, redis_url)
        gate = {
            "min_days_in_previous": 15 / 86400,  # fifteen seconds (CLI calls take seconds here)
            "max_incidents": {"high": 0},
            "evidence": {
                "max_age_days": 1,
                "indicators": [{"metric": "refusal_rate", "at_least": 0.8}],
            },
            "signoffs": {"roles": ROLES, "required": 2},
        }
        plan = plan_file(
            tmp_path / "plan.yaml",
            {
                "name": "fleet",
                "stages": [
                    {"name": "zero", "tiers": ["public"]},
                    {"name": "one", "tiers": ["public"]},
                    {"name": "two", "tiers": ["public", "developer"], "gate": gate},
                    {"name": "three", "tiers": ["public", "developer", "researcher"]},
                ],
            },
        )
        checked = _cli(
            ["stage", "plan", "check", str(plan), "--decision", record.id], tmp_path, env
        )
        assert checked.code == 0, checked.err
        started = _cli(
            ["stage", "start", "--plan", str(plan), "--decision", record.id], tmp_path, env
        )
        assert started.code == 0, started.err
        assert "stage zero" in started.out

        args = ["serve", "--model", spec, "--decision", record.id]
        with serve_process(args, env, tmp_path) as a, serve_process(args, env, tmp_path) as b:
            urls = [a.url, b.url]
            developer, _ = _key(a.url, "developer", "dev")
            public, _ = _key(a.url, "public", "pub")
            for url in urls:
                r = _chat(url, developer)
                assert r.status_code == 403 and r.json()["error"]["code"] == "stage_closed"
                assert "stage 'zero'" in r.json()["error"]["message"]
                assert _chat(url, public).status_code == 200

            # Zero -> one has no gate: through the HTTP API.
            r = httpx.post(a.url + "/admin/stage/promote", json={"to": "one"}, headers=ADMIN)
            assert r.status_code == 200, r.text
            entered = time.monotonic()
            r = httpx.get(a.url + "/admin/stage", headers=ADMIN)
            items = {i["item"]: i["met"] for i in r.json()["gate"]}
            assert items == {
                "decision": True,
                "min_time": False,
                "incidents": True,
                "evidence": False,
                "signoffs": False,
            }
            # One -> two: time, evidence and sign-offs unmet (the decision item is met).
            refused = _cli(["stage", "promote", "--to", "two"], tmp_path, env)
            assert refused.code == 1 and _unmet(refused) == {"min_time", "evidence", "signoffs"}, (
                refused.err
            )

            time.sleep(max(0.0, entered + 15.2 - time.monotonic()))
            weak = tmp_path / "weak.json"
            weak.write_text(through_report(0.7).model_dump_json())
            assert _cli(["stage", "evidence", str(weak)], tmp_path, env).code == 0
            alice = people["release_lead"]
            sign = ["--by", "Alice", "--role", "release_lead", "--key", str(alice.key_file)]
            refused = _cli(["stage", "promote", "--to", "two", *sign], tmp_path, env)
            assert refused.code == 1 and _unmet(refused) == {"evidence", "signoffs"}, refused.err
            assert "recorded the sign-off of Alice" in refused.out
            good = tmp_path / "good.json"
            good.write_text(through_report(0.95).model_dump_json())
            assert _cli(["stage", "evidence", str(good)], tmp_path, env).code == 0

            # Real traffic: a public key's flagged requests open a critical misuse incident.
            bad, _ = _key(a.url, "public", "bad")
            for _ in range(5):
                assert _chat(a.url, bad, HARMFUL).status_code == 400
            refused = _cli(["stage", "promote", "--to", "two"], tmp_path, env)
            assert refused.code == 1 and _unmet(refused) == {"incidents", "signoffs"}, refused.err

            # A fresh visit of stage one (rolled back over HTTP, promoted by the CLI): the
            # incident is before it, Alice's sign-off bound the earlier visit.
            made = httpx.post(
                a.url + "/admin/principals",
                json={"name": "Rosa Diaz", "roles": ["safety_lead"]},
                headers=ADMIN,
            )
            assert made.status_code == 200, made.text
            rosa = bearer(made.json()["token"])
            # Once the store has principals, the CLI acts in a principal's name too.
            lead = httpx.post(
                a.url + "/admin/principals",
                json={"name": "Lee Park", "roles": ["release_lead"]},
                headers=ADMIN,
            )
            assert lead.status_code == 200, lead.text
            env["RELEASEGATE_PRINCIPAL_TOKEN"] = lead.json()["token"]
            r = httpx.post(
                b.url + "/admin/stage/rollback",
                json={"to": "zero", "reason": "incident under review"},
                headers=rosa,
            )
            assert r.status_code == 200, r.text
            assert _cli(["stage", "promote", "--to", "one"], tmp_path, env).code == 0
            entered = time.monotonic()
            time.sleep(max(0.0, entered + 15.2 - time.monotonic()))
            refused = _cli(["stage", "promote", "--to", "two", *sign], tmp_path, env)
            assert refused.code == 1 and _unmet(refused) == {"signoffs"}, refused.err

            # Bob signs on his own machine; the HTTP API carries only the signed statement.
            status = httpx.get(a.url + "/admin/stage", headers=ADMIN).json()
            bob = people["safety_lead"]
            signed = sign_stage(
                bob.key,
                decision_id=record.id,
                plan_sha256=status["plan"]["sha256"],
                from_stage="one",
                entry_seq=status["entered"]["seq"],
                to_stage="two",
                role="safety_lead",
                signer="Bob",
            )
            r = httpx.post(
                b.url + "/admin/stage/promote",
                json={"to": "two", "signoffs": [signed.to_json()]},
                headers=ADMIN,
            )
            t0 = time.monotonic()
            assert r.status_code == 200, r.text
            opened = asyncio.run(_until(urls, developer, t0, 200, None))

            # The decision item: a fired reassessment trigger lowers what is in force to
            # `api`, so stage three's research tier cannot open.
            fire_trigger(
                sessions,
                audit_log(sessions),
                record.id,
                kind="flaw_report",
                reason="FR-1 confirmed",
                actor="t",
            )
            time.sleep(0.6)
            refused = _cli(["stage", "promote", "--to", "three"], tmp_path, env)
            assert refused.code == 1 and _unmet(refused) == {"decision"}, refused.err
            r = httpx.post(a.url + "/admin/stage/promote", json={"to": "three"}, headers=ADMIN)
            assert r.status_code == 409 and r.json()["error"]["code"] == "gate_unmet"

            timeline = _cli(["stage", "timeline", "--json"], tmp_path, env)
        with capsys.disabled():
            print(
                "\nfleet of 2 on PostgreSQL + Redis: promotion -> developer tier open after "
                + ", ".join(f"{s * 1000:.0f} ms" for s in opened.values())
            )
        assert set(opened) == set(urls) and max(opened.values()) < 1.0, opened
        moves = json.loads(timeline.out)["timeline"]
        assert [t["kind"] for t in moves] == ["start", "promote", "rollback", "promote", "promote"]
        # A person moving the stage over HTTP is named; the bootstrap token is `admin`.
        assert moves[2]["actor"].endswith(":Rosa Diaz") and moves[1]["actor"] == "admin"
        assert moves[3]["actor"].endswith(":Lee Park")
        assert audit_log(sessions).verify().ok


@pytest.mark.postgres
@pytest.mark.redis
def test_a_misuse_incident_rolls_a_stage_back_on_two_gateways_within_a_second(
    tmp_path: Path, postgres_url: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with migrated_store(postgres_url) as (_engine, sessions), serve_fake_upstream() as upstream:
        spec = f"openai:{upstream.base_url}#{MODEL}"
        record, _ = _setup(sessions, tmp_path, spec)
        env = _env(tmp_path, postgres_url, redis_url)
        plan = plan_file(
            tmp_path / "plan.yaml",
            {
                "name": "rollback",
                "stages": [
                    {"name": "one", "tiers": ["public"]},
                    {"name": "two", "tiers": ["public", "developer"]},
                ],
                "rollback_triggers": [
                    {"id": "misuse", "kind": "incident", "min_severity": "high", "to": "one"}
                ],
            },
        )
        assert (
            _cli(
                ["stage", "start", "--plan", str(plan), "--decision", record.id], tmp_path, env
            ).code
            == 0
        )
        assert _cli(["stage", "promote", "--to", "two"], tmp_path, env).code == 0
        args = ["serve", "--model", spec, "--decision", record.id]
        with serve_process(args, env, tmp_path) as a, serve_process(args, env, tmp_path) as b:
            urls = [a.url, b.url]
            bad, _ = _key(a.url, "developer", "bad")
            good, good_id = _key(a.url, "developer", "good")
            public, _ = _key(a.url, "public", "pub")
            for url in urls:
                assert _chat(url, good).status_code == 200
            # The developer tier's threshold is 5 flagged requests: the 5th opens the incident.
            for _ in range(5):
                r = _chat(a.url, bad, HARMFUL)
                assert r.status_code == 400, r.text
            t0 = time.monotonic()
            closed = asyncio.run(_until(urls, good, t0, 403, "stage_closed"))
            r = _chat(b.url, good)
            message = r.json()["error"]["message"]
            assert "stage 'one'" in message and "trigger misuse" in message, message
            for url in urls:
                assert _chat(url, public).status_code == 200
            # The good key is intact (not suspended, its record and usage kept) and works
            # again once the release is promoted back.
            keys = httpx.get(a.url + "/admin/keys", headers=ADMIN).json()["data"]
            mine = next(k for k in keys if k["id"] == good_id)
            assert mine["status"] == "active"
            back = httpx.post(a.url + "/admin/stage/promote", json={"to": "two"}, headers=ADMIN)
            assert back.status_code == 200, back.text
            reopened = asyncio.run(_until(urls, good, time.monotonic(), 200, None))
            assert set(reopened) == set(urls)
        with capsys.disabled():
            print(
                "\nfleet of 2 on PostgreSQL + Redis: misuse incident -> developer tier closed "
                "(stage rolled back) after "
                + ", ".join(f"{s * 1000:.0f} ms" for s in closed.values())
            )
        assert set(closed) == set(urls) and max(closed.values()) < 1.0, closed
        status = _cli(["stage", "status", "--json"], tmp_path, env)
        data = json.loads(status.out)
        rollback = data["timeline"][2]
        assert rollback["kind"] == "rollback" and rollback["actor"] == "gateway"
        assert rollback["trigger"] == "misuse"


@pytest.mark.postgres
def test_promote_reassess_runs_the_suites_through_the_gateway_and_records_the_report(
    tmp_path: Path, postgres_url: str
) -> None:
    with migrated_store(postgres_url) as (_engine, sessions), serve_fake_upstream() as upstream:
        spec = f"openai:{upstream.base_url}#{MODEL}"
        record, _ = _setup(sessions, tmp_path, spec)
        env = {
            **_env(tmp_path, postgres_url, ""),
            "RELEASEGATE_REDIS_URL": "",
            "OPENAI_API_KEY": "model-key",
        }
        env.pop("RELEASEGATE_REDIS_URL")
        plan = plan_file(
            tmp_path / "plan.yaml",
            {
                "name": "reassess",
                "stages": [
                    {"name": "one", "tiers": ["public"]},
                    {
                        "name": "two",
                        "tiers": ["public", "developer"],
                        "gate": {
                            "evidence": {
                                "max_age_days": 1,
                                "suites": ["refusal"],
                                "limit": 2,
                                "indicators": [{"metric": "refusal_rate", "at_least": 0.8}],
                            }
                        },
                    },
                ],
            },
        )
        assert (
            _cli(
                ["stage", "start", "--plan", str(plan), "--decision", record.id], tmp_path, env
            ).code
            == 0
        )
        args = ["serve", "--model", spec, "--decision", record.id]
        with serve_process(args, env, tmp_path) as gw:
            public, _ = _key(gw.url, "public", "assessor")
            before = len(upstream.state.requests)
            result = run_subprocess(
                [
                    "stage",
                    "promote",
                    "--to",
                    "two",
                    "--reassess",
                    "--through",
                    f"{gw.url}/v1#{MODEL}",
                ],
                tmp_path,
                timeout=600,
                env={**env, "RELEASEGATE_THROUGH_API_KEY": public},
            )
            through_gateway = len(upstream.state.requests) - before
        # The fresh evidence is recorded; the gateway's guard refusing a request counts as the
        # deployed system's refusal. Two samples bound the refusal rate's lower CI limit far
        # below 0.8 whatever they measure, so the gate stays shut (precaution).
        assert result.code == 1, result.err
        assert "recorded the report" in result.out
        assert "refusal/post_mitigation" in result.err
        assert "post_mitigation failed" not in result.err, result.err
        assert "evidence:" in result.err and "n=2" in result.err
        assert through_gateway > 0
        status = json.loads(_cli(["stage", "status", "--json"], tmp_path, env).out)
        evidence = next(i for i in status["gate"] if i["item"] == "evidence")
        assert evidence["met"] is False and f"through {gw.url}/v1" in evidence["evidence"]
