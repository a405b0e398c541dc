"""Verification, with no store: forged decisions fail, three ways, in the library, in
`releasegate decision verify` and in the outsider's `verify_decision.py`, which runs in a
fresh interpreter where releasegate cannot be imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from releasegate._util import ed25519
from releasegate.approvals import (
    DecisionRegistry,
    SignedStatement,
    Statement,
    all_signers,
    decision_sha256,
    export_files,
    verify_signoffs,
)
from releasegate.policy import decision_json_bytes
from releasegate.vocab import AccessLevel
from tests.helpers.cli import run_main
from tests.helpers.decisions import example_decision
from tests.helpers.gateway import AUDIT_KEY
from tests.helpers.signing import approve, at_level, audit_log, signers
from tests.helpers.stores import migrated_store

# Runs the export's script with `releasegate` made unimportable, then lists every third-party
# top-level module it imported: only `cryptography` (and the cffi it loads) may appear.
OUTSIDER = """
import runpy, sys
before = set(sys.modules)
sys.modules["releasegate"] = None  # any import of releasegate now fails
sys.argv = ["verify_decision.py", *sys.argv[1:]]
try:
    runpy.run_path("{script}", run_name="__main__")
    code = 0
except SystemExit as exc:
    code = exc.code
third_party = sorted(
    {{n.split(".")[0] for n, m in sys.modules.items() if m is not None and n not in before}}
    - set(sys.stdlib_module_names) - {{"__main__", "releasegate"}}
)
print("THIRD_PARTY", ",".join(third_party))
sys.exit(code)
"""


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    with migrated_store(f"sqlite:///{tmp_path / 'rg.db'}") as (_engine, sessions):
        yield sessions


def _export(sessions: sessionmaker[Session], decision_id: str, out: Path) -> Path:
    with sessions() as session:
        record = DecisionRegistry(sessions).load(session, decision_id)
        files = export_files(record, all_signers(session))
    out.mkdir()
    for name, content in files.items():
        (out / name).write_bytes(content)
    return out


def _outsider(export: Path, *args: str) -> tuple[int, str]:
    script = export / "verify_decision.py"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", OUTSIDER.format(script=script), str(export), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = proc.stdout + proc.stderr
    third = next(line for line in out.splitlines() if line.startswith("THIRD_PARTY"))
    # cryptography and its compiled bindings, nothing else.
    imported = set(filter(None, third.split(" ", 1)[1].split(",")))
    assert "cryptography" in imported
    assert imported <= {
        "cryptography",
        "_cffi_backend",
        "_openssl",
    }, third
    return proc.returncode, out


def _signed_other(sessions: sessionmaker[Session], people: dict, tmp_path: Path) -> SignedStatement:  # type: ignore[type-arg]
    """A valid signature by Bob, over another decision's bytes."""
    other = approve(sessions, example_decision("high-cyber-strong-safeguards"), people)
    return next(s for s in other.signatures if s.statement.signer == "Bob")


def test_an_approved_export_verifies_for_an_outsider(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people = signers(store, tmp_path / "keys")
    record = approve(store, example_decision("low-risk"), people)
    export = _export(store, record.id, tmp_path / "export")
    assert sorted(p.name for p in export.iterdir()) == [
        "decision.json",
        "signatures.json",
        "signers.json",
        "verify_decision.py",
    ]
    code, out = _outsider(export)
    assert code == 0, out
    assert "in force" in out and "counted approve by 'Alice'" in out
    # Trusting exactly the signers' published key ids still verifies.
    keys = [p.key_id for p in all_signers_of(store).values() if p.name in ("Alice", "Bob")]
    code, out = _outsider(export, *[a for k in keys for a in ("--trust", k)])
    assert code == 0, out
    # A pending decision does not.
    pending = DecisionRegistry(store, audit_log(store)).record(example_decision("missing-tamper"))
    code, out = _outsider(_export(store, pending.id, tmp_path / "pending"))
    assert code == 1 and "0 of the 2 approvals" in out


def all_signers_of(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    with sessions() as session:
        return all_signers(session)


def test_three_forgeries_fail_everywhere(
    store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    people = signers(store, tmp_path / "keys")
    decision = example_decision("low-risk")
    record = approve(store, decision, people)
    trusted = all_signers_of(store)
    assert verify_signoffs(decision, list(record.signatures), trusted).in_force

    # 1. The level edited to fully_open and the content hash recomputed: a self-consistent
    #    file, but no signature is over its bytes.
    edited = at_level(decision, AccessLevel.FULLY_OPEN)
    one = verify_signoffs(edited, list(record.signatures), trusted)
    assert one.problems and all("signs other bytes" in p for p in one.problems)
    assert not one.in_force and one.approvals == 0

    # 2. A signature by a key nobody registered, in Bob's name.
    mallory = ed25519.generate_private_key()
    mallory_id = ed25519.key_id(ed25519.public_key_b64(mallory))
    statement = Statement(
        action="approve",
        decision_id=decision.content_sha256[:16],
        decision_sha256=decision_sha256(decision),
        role="safety_lead",
        signer="Bob",
        key_id=mallory_id,
        signed_at="2026-12-01T00:00:00.000000Z",
    )
    forged = SignedStatement(statement, ed25519.sign(mallory, statement.to_bytes()))
    alice_only = [s for s in record.signatures if s.statement.signer == "Alice"]
    two = verify_signoffs(decision, [*alice_only, forged], trusted)
    assert any("not a registered signer key" in p for p in two.problems) and not two.in_force

    # 3. A valid signature by Bob, over another decision's bytes.
    other = _signed_other(store, people, tmp_path)
    assert ed25519.verify(
        trusted[other.statement.key_id].public_key, other.statement.to_bytes(), other.signature
    )
    three = verify_signoffs(decision, [*alice_only, other], trusted)
    assert any("signs other bytes" in p for p in three.problems) and not three.in_force

    # The same three, as files an outsider is handed.
    good = _export(store, record.id, tmp_path / "good")
    cases = {}
    cases["edited"] = _copy(good, tmp_path / "edited")
    (cases["edited"] / "decision.json").write_bytes(decision_json_bytes(edited))
    cases["unregistered"] = _copy(good, tmp_path / "unregistered")
    _set_signatures(cases["unregistered"], [*alice_only, forged])
    cases["other-bytes"] = _copy(good, tmp_path / "other")
    _set_signatures(cases["other-bytes"], [*alice_only, other])
    # ... and the unregistered key smuggled into signers.json as well: only a trust anchor
    # (--trust, or the store's registry) catches that one.
    cases["smuggled"] = _copy(cases["unregistered"], tmp_path / "smuggled")
    listed = json.loads((cases["smuggled"] / "signers.json").read_text())
    listed["signers"].append(
        {
            **listed["signers"][0],
            "key_id": mallory_id,
            "name": "Bob",
            "roles": ["safety_lead"],
            "public_key": ed25519.public_key_b64(mallory),
        }
    )
    listed["signers"] = [s for s in listed["signers"] if s["key_id"] != people_key(people, "Bob")]
    (cases["smuggled"] / "signers.json").write_text(json.dumps(listed))

    monkeypatch.setenv("RELEASEGATE_DATABASE_URL", str(store.kw["bind"].url))
    monkeypatch.setenv("RELEASEGATE_AUDIT_HMAC_KEY", AUDIT_KEY)
    trust = [a for s in trusted.values() for a in ("--trust", s.key_id)]
    for name, directory in cases.items():
        code, out = _outsider(directory, *trust)
        assert code == 1, (name, out)
        assert "FAIL" in out and "NOT in force" in out
        result = run_main(["decision", "verify", str(directory)], capsys, monkeypatch)
        assert result.code == 1, (name, result.out, result.err)
        assert "FAIL" in result.err
    # Untrusting, the outsider is fooled only by the smuggled key, and says whose keys it used.
    code, out = _outsider(cases["smuggled"])
    assert code == 0 and mallory_id in out
    assert run_main(["decision", "verify", str(good)], capsys, monkeypatch).code == 0


def people_key(people: dict, name: str) -> str:  # type: ignore[type-arg]
    person = next(p for p in people.values() if p.name == name)
    return ed25519.key_id(ed25519.public_key_b64(person.key))


def _copy(source: Path, target: Path) -> Path:
    target.mkdir()
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def _set_signatures(directory: Path, signatures: list[SignedStatement]) -> None:
    data = json.loads((directory / "signatures.json").read_text())
    data["signatures"] = [s.to_json() for s in signatures]
    (directory / "signatures.json").write_text(json.dumps(data))
