"""`releasegate keys|audit|decision` end to end through the real entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import update

from releasegate.access import KeyStore
from releasegate.settings import Settings
from releasegate.store import open_store
from releasegate.store.tables.audit import AuditRecordRow
from tests.helpers.cli import ROOT, Result, run_main

KEY = re.compile(r"^rg-[A-Za-z0-9_-]{40,}$", re.MULTILINE)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return lambda *args: run_main([str(a) for a in args], capsys, monkeypatch)


def _records(export: str) -> list[dict[str, object]]:
    """The records of an export (every line but the closing signed checkpoint)."""
    items = [json.loads(line) for line in export.splitlines()]
    assert "checkpoint" in items[-1]
    return items[:-1]


def _key_id(result: Result) -> str:
    found = re.search(r"key_[0-9a-f]{16}", result.out)
    assert found, result.out
    return found.group(0)


def test_keys_lifecycle_and_admin_audit(cli) -> None:  # type: ignore[no-untyped-def]
    created = cli("keys", "create", "--tier", "developer", "--owner", "alice", "--expires", "30")
    assert created.code == 0, created.err
    plaintext = KEY.search(created.out)
    assert plaintext, created.out
    key_id = _key_id(created)
    engine, sessions = open_store(Settings())
    try:
        record = KeyStore(sessions).authenticate(plaintext.group(0))
        assert record is not None and record.id == key_id and record.expires_at is not None
    finally:
        engine.dispose()

    listed = cli("keys", "list", "--json")
    rows = json.loads(listed.out)
    assert [(r["id"], r["tier"], r["status"]) for r in rows] == [(key_id, "developer", "active")]
    assert plaintext.group(0) not in listed.out

    rotated = cli("keys", "rotate", key_id)
    assert rotated.code == 0 and KEY.search(rotated.out)
    new_id = _key_id(Result(0, rotated.out.split("replacement:")[1], ""))
    assert cli("keys", "revoke", new_id).code == 0
    statuses = {r["id"]: r["status"] for r in json.loads(cli("keys", "list", "--json").out)}
    assert statuses == {key_id: "revoked", new_id: "revoked"}

    exported = cli("audit", "export")
    actions = [r["payload"]["action"] for r in _records(exported.out)]
    assert actions == ["keys.create", "keys.rotate", "keys.revoke"]
    assert plaintext.group(0) not in exported.out
    assert cli("audit", "verify").code == 0


def test_keys_bad_input_exits_2_and_creates_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    over = cli("keys", "create", "--tier", "public", "--owner", "bob", "--rpm", "1000")
    assert over.code == 2 and "exceeds the rpm of tier 'public'" in over.err
    unknown = cli("keys", "create", "--tier", "gold", "--owner", "bob")
    assert unknown.code == 2 and "unknown tier 'gold'" in unknown.err
    bad_date = cli("keys", "create", "--tier", "public", "--owner", "bob", "--expires", "soon")
    assert bad_date.code == 2 and "--expires" in bad_date.err
    past = cli("keys", "create", "--tier", "public", "--owner", "bob", "--expires", "2001-01-01")
    assert past.code == 2 and "past" in past.err
    missing = cli("keys", "revoke", "key_0000000000000000")
    assert missing.code == 2 and "no API key" in missing.err
    assert json.loads(cli("keys", "list", "--json").out) == []
    exported = cli("audit", "export").out.splitlines()
    assert len(exported) == 1 and json.loads(exported[0])["checkpoint"]["seq"] == 0


def test_audit_verify_names_the_edited_record(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for owner in ("a", "b", "c"):
        assert cli("keys", "create", "--tier", "public", "--owner", owner).code == 0
    out = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--out", out).code == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["checkpoint"]["seq"] == 3
    assert cli("audit", "verify", "--file", out).code == 0
    engine, sessions = open_store(Settings())
    try:
        with sessions() as session, session.begin():
            session.execute(
                update(AuditRecordRow).where(AuditRecordRow.seq == 2).values(actor="cli:mallory")
            )
    finally:
        engine.dispose()
    result = cli("audit", "verify")
    assert result.code == 1
    assert "record 2" in result.err and "edited" in result.err


def _signer(cli, tmp_path: Path, name: str, *roles: str) -> Path:  # type: ignore[no-untyped-def]
    key = tmp_path / "keys" / f"{name.split()[0].lower()}.pem"
    args = ["signers", "create", name, "--key-out", key]
    for role in roles:
        args += ["--role", role]
    result = cli(*args)
    assert result.code == 0, result.err
    assert key.stat().st_mode & 0o777 == 0o600
    return key


def test_decide_sign_verify_export_render(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def sign(action: str, role: str, by: str, key: Path, *extra: str) -> Result:
        return cli("decision", action, prefix, "--role", role, "--by", by, "--key", key, *extra)

    report = _dated(ROOT / "examples" / "reports" / "high-cyber-strong-safeguards.json", tmp_path)
    out = tmp_path / "d"
    assert cli("decide", report, "--out", tmp_path / "first").code == 0
    # Same content: one record; the store remembers the newest directory to render again.
    assert cli("decide", report, "--out", out).code == 0
    digest = json.loads((out / "decision.json").read_text())["content_sha256"]
    assert "**Status: pending**" in (out / "model-card.md").read_text()
    listed = cli("decision", "list")
    assert listed.code == 0 and digest[:8] in listed.out and "1 decision(s)" in listed.out
    prefix = digest[:8]
    alice = _signer(cli, tmp_path, "Alice Martin", "release_lead")
    bob = _signer(cli, tmp_path, "Bob Okafor", "safety_lead", "security_lead")
    assert (
        cli("signers", "create", "alice martin", "--role", "x", "--key-out", tmp_path / "k").code
        == 2
    )
    signers = cli("signers", "list")
    assert "Alice Martin" in signers.out and "2 signer key(s)" in signers.out

    no_key = sign("approve", "release_lead", "Alice Martin", bob)
    assert no_key.code == 2 and "not Alice Martin's registered signing key" in no_key.err
    first = sign("approve", "release_lead", "Alice Martin", alice)
    assert first.code == 0 and "pending: 1 of the 2 approvals" in first.out
    twice = sign("approve", "safety_lead", "Alice Martin", alice)
    assert twice.code == 2 and "does not hold the role" in twice.err
    unverified = cli("decision", "verify", prefix)
    assert unverified.code == 1 and "1 of the 2 approvals" in unverified.err
    done = sign("approve", "security_lead", "bob okafor", bob)
    assert done.code == 0 and "approved at" in done.out
    # The documents decide wrote now say so, with who signed and when.
    card = (out / "model-card.md").read_text()
    assert "**Status: approved**" in card and "Alice Martin (release_lead)" in card
    assert "Bob Okafor (security_lead)" in card
    assert "approved" in (out / "decision.md").read_text().split("## Levels")[0]
    assert "status-approved" in (out / "decision.html").read_text()
    assert (out / "signatures.json").exists() and (out / "verify_decision.py").exists()
    assert cli("decision", "verify", prefix).code == 0
    assert cli("decision", "verify", out).code == 0
    exported = cli("decision", "export", prefix, "--out", tmp_path / "export")
    assert exported.code == 0 and cli("decision", "verify", tmp_path / "export").code == 0
    shown = json.loads(cli("decision", "show", prefix, "--json").out)
    assert shown["content_sha256"] == digest and shown["stored"]["status"] == "approved"
    assert [s["statement"]["signer"] for s in shown["stored"]["signatures"]] == [
        "Alice Martin",
        "Bob Okafor",
    ]
    halted = sign("halt", "safety_lead", "Bob Okafor", bob, "--reason", "a jailbreak was reported")
    assert halted.code == 0
    card = (out / "model-card.md").read_text()
    assert "**Status: halted**" in card and "Access to the model is closed" in card
    assert "documentation and evaluation results stay published" in card
    status = cli("decision", "status", prefix)
    assert "halted" in status.out and "tiers open: none" in status.out
    assert cli("decision", "verify", prefix).code == 1
    rendered = cli("decision", "render", prefix, "--out", tmp_path / "again")
    assert (
        rendered.code == 0
        and "**Status: halted**" in (tmp_path / "again" / "model-card.md").read_text()
    )
    assert cli("decision", "show", "ffffffff").code == 2
    actions = [r["payload"]["action"] for r in _records(cli("audit", "export").out)]
    assert actions == [
        "decision.record",
        "decision.record_again",
        "signers.create",
        "signers.create",
        "decision.approve",
        "decision.approve",
        "decision.halt",
    ]
    assert cli("audit", "verify").code == 0


def _dated(report: Path, tmp_path: Path) -> Path:
    """A copy of an example report, assessed today (the examples' fixed date would expire)."""
    from datetime import UTC, datetime

    data = json.loads(report.read_text())
    data["created_at"] = datetime.now(UTC).isoformat()
    copy = tmp_path / report.name
    copy.write_text(json.dumps(data))
    return copy


def test_decision_commands_on_postgresql(
    cli, postgres_url: str, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RELEASEGATE_DATABASE_URL", postgres_url)
    monkeypatch.delenv("RELEASEGATE_AUDIT_HMAC_KEY", raising=False)
    # A shared database needs the fleet's audit key: no per-machine key file is made up.
    assert cli("audit", "verify").code == 2
    assert "RELEASEGATE_AUDIT_HMAC_KEY" in cli("audit", "verify").err
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", "fleet-key")
    decision = tmp_path / "d" / "decision.json"
    report = _dated(ROOT / "examples" / "reports" / "critical-bio-proxy.json", tmp_path)
    assert cli("decide", report, "--out", decision.parent).code == 0
    recorded = cli("decision", "record", decision)  # idempotent: decide already stored it
    assert recorded.code == 0 and "halted" in recorded.out
    key = _signer(cli, tmp_path, "A", "release_lead")
    halted = cli(
        "decision",
        "approve",
        recorded.out.split()[1].rstrip(":"),
        "--role",
        "release_lead",
        "--by",
        "A",
        "--key",
        key,
    )
    assert halted.code == 2 and "halted" in halted.err
    edited = json.loads(decision.read_text())
    edited["policy_version"] = "0.0.1"
    decision.write_text(json.dumps(edited))
    assert cli("decision", "record", decision).code == 2
    assert cli("audit", "verify").code == 0


def test_keys_create_with_a_policys_tiers(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    policy = yaml.safe_load((ROOT / "policies" / "default.yaml").read_text())
    policy["access_tiers"] = {"partner": {"name": "partner", "rpm": 5, "tpm": 1000}}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    over = cli(
        "keys", "create", "--tier", "partner", "--owner", "x", "--policy", path, "--rpm", "6"
    )
    assert over.code == 2 and "tier 'partner' (5)" in over.err
    ok = cli("keys", "create", "--tier", "partner", "--owner", "x", "--policy", path, "--json")
    assert ok.code == 0 and json.loads(ok.out)["tier"] == "partner"
    default = cli("keys", "create", "--tier", "partner", "--owner", "x")
    assert default.code == 2 and "unknown tier" in default.err
