"""`releasegate serve` as a real process: it refuses to start (exit 2, before binding its port,
naming the reason, audited) for pending, expired, wrong-model and forged decisions, and serves
an approved one, under a short model name that never reveals the upstream."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate.approvals import DecisionRegistry, Statement, decision_sha256
from releasegate.audit import AuditLog
from releasegate.evidence import example_report_path, load_report
from releasegate.policy import (
    Decision,
    bundled_policy_path,
    decide,
    decision_json_bytes,
    load_policy,
)
from releasegate.store.tables.approvals import SignatureRow
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import ADMIN, ADMIN_TOKEN, AUDIT_KEY, bearer
from tests.helpers.gateway_proc import free_port
from tests.helpers.openai_server import FakeUpstream, serve_fake_upstream
from tests.helpers.serve_proc import serve_process
from tests.helpers.signing import Person, approve, at_level, for_model, signers
from tests.helpers.stores import migrated_store

UPSTREAM_MODEL = "fake-model"  # the one model the fake upstream serves


class World:
    """A store, signers and a fake OpenAI-compatible upstream, shared with the child processes."""

    def __init__(self, tmp_path: Path, sessions: sessionmaker[Session], upstream: FakeUpstream):
        self.tmp = tmp_path
        self.sessions = sessions
        self.upstream = upstream
        self.spec = f"openai:{upstream.base_url}#{UPSTREAM_MODEL}"
        self.people: dict[str, Person] = signers(sessions, tmp_path / "keys")
        self.env = {
            "RELEASEGATE_DATA_DIR": str(tmp_path / "data"),
            "RELEASEGATE_DATABASE_URL": str(sessions.kw["bind"].url),
            "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
            "RELEASEGATE_UPSTREAM_MAX_RETRIES": "0",
        }

    def decision(
        self, *, days_old: int = 0, level: AccessLevel = AccessLevel.RESEARCH_API
    ) -> Decision:
        report = load_report(example_report_path("low-risk"))
        created = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_old)
        decision = decide(
            report.model_copy(update={"created_at": created}),
            load_policy(bundled_policy_path("default")),
        )
        return for_model(at_level(decision, level), self.spec, f"declared:{UPSTREAM_MODEL}")

    def serve_args(self, decision: str, *extra: str, model: str | None = None) -> list[str]:
        return ["serve", "--model", model or self.spec, "--decision", decision, *extra]

    def refused(self, decision: str, *extra: str, model: str | None = None) -> str:
        """Run serve; assert it exits 2 before listening; return its stderr."""
        port = free_port()
        result = _run(
            self.serve_args(decision, "--port", str(port), *extra, model=model), self.env, self.tmp
        )
        assert result.returncode == 2, result.stdout + result.stderr
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0  # never bound
        return " ".join(result.stderr.split())

    def audit_reasons(self) -> list[str]:
        log = AuditLog(self.sessions, hmac_key=AUDIT_KEY.encode())
        return [
            r.payload["reason"] for r in log.records() if r.payload.get("action") == "serve.refused"
        ]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "releasegate"
    return subprocess.run(
        [str(exe), *args],
        cwd=cwd,
        env={**os.environ, **env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with (
        migrated_store(f"sqlite:///{tmp_path / 'rg.db'}") as (_engine, sessions),
        serve_fake_upstream() as upstream,
    ):
        # The store's audit log uses the same key as the child processes.
        yield World(tmp_path, sessions, upstream)


def _audit(world: World) -> AuditLog:
    return AuditLog(world.sessions, hmac_key=AUDIT_KEY.encode())


def _registry(world: World) -> DecisionRegistry:
    return DecisionRegistry(world.sessions, _audit(world))


def _insert_signature(world: World, decision_id: str, statement: Statement, signature: str) -> None:
    """Write a signature straight into the database, as someone with write access could."""
    with world.sessions() as session, session.begin():
        session.add(
            SignatureRow(
                decision_id=decision_id,
                action=statement.action,
                decision_sha256=statement.decision_sha256,
                role=statement.role,
                signer=statement.signer,
                key_id=statement.key_id,
                signed_at=statement.signed_at,
                reason=statement.reason,
                signature=signature,
            )
        )


def _sign_once(world: World, decision: Decision, role: str = "release_lead") -> str:
    person = world.people[role]
    record = _registry(world).record(decision, actor="test")
    _registry(world).sign(record.id, "approve", role=role, by=person.name, key=person.key)
    return record.id


def test_pending_expired_and_wrong_model_decisions_do_not_serve(world: World) -> None:
    pending = _sign_once(world, world.decision())
    assert "refusing to serve (pending)" in world.refused(pending)
    assert "1 of the 2 approvals" in world.refused(pending)

    expired = world.decision(days_old=400)
    record = approve(world.sessions, expired, world.people)
    assert record.status == "approved"
    err = world.refused(record.id)
    assert "refusing to serve (expired)" in err and "has expired" in err

    good = approve(world.sessions, world.decision(), world.people)
    other = f"openai:{world.upstream.base_url}#another-model"
    err = world.refused(good.id, model=other)
    assert "refusing to serve (wrong_model)" in err and "declared:another-model" in err
    err = world.refused(good.id, model="bundled:smollm2")  # a local model, hashed: not it
    assert "refusing to serve (wrong_model)" in err and "sha256:" in err
    assert world.audit_reasons() == ["pending", "pending", "expired", "wrong_model", "wrong_model"]


def test_three_forgeries_are_refused_by_serve_and_verify(world: World) -> None:
    good = approve(world.sessions, world.decision(), world.people)
    decision = good.decision()

    # 1. The level edited and the content hash recomputed: not in the store, so not served...
    forged = at_level(decision, AccessLevel.FULLY_OPEN)
    path = world.tmp / "forged.json"
    path.write_bytes(decision_json_bytes(forged))
    assert "decision_not_found" in world.refused(str(path))
    # ... and recorded, with the genuine signatures copied next to it, it does not verify.
    forged_id = _registry(world).record(forged, actor="mallory").id
    for signed in good.signatures:
        _insert_signature(world, forged_id, signed.statement, signed.signature)
    err = world.refused(str(path))
    assert "refusing to serve (unverifiable)" in err and "signs other bytes" in err

    # 2. A signature by a key nobody registered, in Bob's name, on a decision Alice approved.
    pending = _sign_once(world, world.decision(level=AccessLevel.API))
    target = _registry(world).get(pending).decision()
    mallory = ed25519.generate_private_key()
    statement = Statement(
        action="approve",
        decision_id=pending,
        decision_sha256=decision_sha256(target),
        role="safety_lead",
        signer="Bob",
        key_id=ed25519.key_id(ed25519.public_key_b64(mallory)),
        signed_at="2026-12-01T00:00:00.000000Z",
    )
    _insert_signature(world, pending, statement, ed25519.sign(mallory, statement.to_bytes()))
    err = world.refused(pending)
    assert "refusing to serve (unverifiable)" in err and "not a registered signer key" in err

    # 3. Bob's valid signature over another decision's bytes, copied onto this one.
    third = _sign_once(world, world.decision(level=AccessLevel.HOSTED))
    bob = next(s for s in good.signatures if s.statement.signer == "Bob")
    _insert_signature(world, third, bob.statement, bob.signature)
    err = world.refused(third)
    assert "refusing to serve (unverifiable)" in err and "signs other bytes" in err

    for ref in (str(path), pending, third):
        result = _run(["decision", "verify", ref], world.env, world.tmp)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "FAIL" in result.stderr
    assert _run(["decision", "verify", good.id], world.env, world.tmp).returncode == 0


def _serving(world: World, decision: str, *extra: str):  # type: ignore[no-untyped-def]
    return serve_process(world.serve_args(decision, *extra), world.env, world.tmp)


def test_an_approved_decision_serves_under_a_short_name_that_hides_the_upstream(
    world: World,
) -> None:
    record = approve(world.sessions, world.decision(level=AccessLevel.API), world.people)
    host_port = world.upstream.base_url.split("//", 1)[1].split("/", 1)[0]
    secrets = (world.upstream.base_url, host_port, "openai:")
    with _serving(world, record.id) as served:
        url = served.url
        key = httpx.post(
            url + "/admin/keys", json={"tier": "public", "owner": "t"}, headers=ADMIN
        ).json()["key"]
        researcher = httpx.post(
            url + "/admin/keys", json={"tier": "researcher", "owner": "t"}, headers=ADMIN
        ).json()["key"]
        bodies = []
        models = httpx.get(url + "/v1/models", headers=bearer(key))
        assert models.status_code == 200
        [entry] = models.json()["data"]
        assert entry["id"] == UPSTREAM_MODEL.rsplit("/", 1)[-1]
        meta = entry["releasegate"]
        assert meta["decision"] == record.id and meta["status"] == "approved" and meta["reviewed"]
        assert meta["fingerprint"] == f"declared:{UPSTREAM_MODEL}"
        assert meta["fingerprint_verified"] is False
        assert meta["tiers_open"] == ["public", "developer"]
        assert "tier-above-decision" in meta["tiers_withheld"]["researcher"]
        chat = {"model": entry["id"], "messages": [{"role": "user", "content": "hi there"}]}
        ok = httpx.post(url + "/v1/chat/completions", json=chat, headers=bearer(key))
        assert ok.status_code == 200 and ok.json()["model"] == entry["id"]
        closed = httpx.post(url + "/v1/chat/completions", json=chat, headers=bearer(researcher))
        assert closed.status_code == 403 and closed.json()["error"]["code"] == "tier_not_allowed"
        wrong = httpx.post(
            url + "/v1/chat/completions", json={**chat, "model": "gpt-4"}, headers=bearer(key)
        )
        assert wrong.status_code == 404
        world.upstream.state.fail_statuses = [500]
        failed = httpx.post(url + "/v1/chat/completions", json=chat, headers=bearer(key))
        assert failed.status_code == 502
        world.upstream.state.fail_statuses = [400]
        rejected = httpx.post(url + "/v1/chat/completions", json=chat, headers=bearer(key))
        assert rejected.status_code == 400
        bodies = [models, ok, closed, wrong, failed, rejected]
        for response in bodies:
            text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
            for secret in secrets:
                assert secret not in text, (secret, response.text)
    assert "tiers served: public, developer" in served.output
    assert "withheld researcher" in served.output
    with _serving(world, record.id, "--served-model-name", "acme-chat") as served:
        url = served.url
        key = httpx.post(
            url + "/admin/keys", json={"tier": "public", "owner": "t"}, headers=ADMIN
        ).json()["key"]
        assert [
            m["id"] for m in httpx.get(url + "/v1/models", headers=bearer(key)).json()["data"]
        ] == ["acme-chat"]


def test_dev_mode_is_loud_and_marks_everything_unreviewed(world: World) -> None:
    pending = _sign_once(world, world.decision())  # pending: only --dev serves it
    with _serving(world, pending, "--dev") as served:
        url = served.url
        key = httpx.post(
            url + "/admin/keys", json={"tier": "public", "owner": "t"}, headers=ADMIN
        ).json()["key"]
        models = httpx.get(url + "/v1/models", headers=bearer(key))
        assert models.headers["x-releasegate-review"] == "unreviewed"
        meta = models.json()["data"][0]["releasegate"]
        assert meta["reviewed"] is False and "--dev" in meta["unreviewed"]
        chat = {"model": UPSTREAM_MODEL, "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(url + "/v1/chat/completions", json=chat, headers=bearer(key))
        assert answer.status_code == 200 and answer.headers["x-releasegate-review"] == "unreviewed"
    assert "DEVELOPMENT MODE (--dev): NO SIGNED DECISION BINDS THIS GATEWAY" in served.output


def test_a_policy_that_is_not_the_decisions_is_refused(world: World) -> None:
    record = approve(world.sessions, world.decision(), world.people)
    result = _run(world.serve_args(record.id, "--policy", "conservative"), world.env, world.tmp)
    assert result.returncode == 2
    assert "not the one the decision was made under" in " ".join(result.stderr.split())


def test_pinned_signer_keys_void_signers_written_into_the_database(world: World) -> None:
    from releasegate.store._types import utcnow
    from releasegate.store.tables.approvals import SignerRow

    genuine = approve(world.sessions, world.decision(), world.people)
    target = world.decision(level=AccessLevel.API)
    forged_id = _registry(world).record(target, actor="mallory").id
    # Someone with write access to the database registers two keys of their own, behind the
    # CLI's back, and approves with them: the store alone cannot tell.
    for name, role in (("Mallory", "release_lead"), ("Trudy", "safety_lead")):
        key = ed25519.generate_private_key()
        public = ed25519.public_key_b64(key)
        with world.sessions() as session, session.begin():
            session.add(
                SignerRow(
                    key_id=ed25519.key_id(public),
                    name=name,
                    name_key=name.lower(),
                    roles=[role],
                    public_key=public,
                    created_at=utcnow(),
                    created_by="sql",
                )
            )
        statement = Statement(
            action="approve",
            decision_id=forged_id,
            decision_sha256=decision_sha256(target),
            role=role,
            signer=name,
            key_id=ed25519.key_id(public),
            signed_at="2026-12-01T00:00:00.000000Z",
        )
        _insert_signature(world, forged_id, statement, ed25519.sign(key, statement.to_bytes()))
    assert _run(["decision", "verify", forged_id], world.env, world.tmp).returncode == 0
    # Pinning the genuine signers' public keys (a trust anchor outside the database) voids them.
    listed = _run(["signers", "list", "--keys"], world.env, world.tmp)
    genuine_keys = {ed25519.public_key_b64(p.key) for p in world.people.values()}
    assert set(listed.stdout.strip().split(",")) >= genuine_keys
    world.env["RELEASEGATE_TRUSTED_SIGNER_KEYS"] = ",".join(sorted(genuine_keys))
    err = world.refused(forged_id)
    assert "refusing to serve (unverifiable)" in err and "not a trusted one" in err
    assert _run(["decision", "verify", forged_id], world.env, world.tmp).returncode == 1
    assert _run(["decision", "verify", genuine.id], world.env, world.tmp).returncode == 0


def test_serve_dev_echo_answers_an_openai_client(tmp_path: Path) -> None:
    import openai

    from tests.helpers.cli import run_subprocess
    from tests.helpers.serve_proc import serve_echo

    env = {"RELEASEGATE_DATA_DIR": str(tmp_path / "data")}
    with serve_echo(env) as (url, _startup_s):
        created = run_subprocess(
            ["keys", "create", "--tier", "developer", "--owner", "me"], tmp_path, env=env
        )
        assert created.code == 0, created.err
        key = next(line for line in created.out.splitlines() if line.startswith("rg-"))
        client = openai.OpenAI(base_url=url + "/v1", api_key=key)
        reply = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "Hello there"}]
        )
        assert reply.choices[0].message.content == "echo: Hello there"
        assert [m.id for m in client.models.list()] == ["echo"]


def test_new_weights_under_the_same_model_fire_the_fingerprint_trigger(world: World) -> None:
    from releasegate.approvals import fired_triggers
    from releasegate.backends import model_fingerprint

    weights = world.tmp / "my-model"
    weights.mkdir()
    (weights / "model.safetensors").write_bytes(b"the weights that were assessed")
    spec = f"hf:{weights}"
    decision = for_model(world.decision(), spec, model_fingerprint(spec).value)
    record = approve(world.sessions, decision, world.people)
    (weights / "model.safetensors").write_bytes(b"weights changed after the assessment")
    err = world.refused(record.id, model=spec)
    assert "refusing to serve (new_fingerprint)" in err and "needs reassessing" in err
    assert "trigger new-model-fingerprint fired" in err
    with world.sessions() as session:
        [fired] = fired_triggers(session, record.id)
    assert fired.trigger_id == "new-model-fingerprint" and fired.kind == "model_fingerprint"
    assert world.audit_reasons() == ["new_fingerprint"]
