"""The CLI side of the access programme: the first admin bootstrapped in the store, the store
commands checking the caller's role once principals exist, and `releasegate access` /
`releasegate principals` driving a real gateway process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers.access import ADMIN_TOKEN, access_gateway
from tests.helpers.cli import run_main


def _token(out: str) -> str:
    match = re.search(r"rgp-[A-Za-z0-9_-]{43}", out)
    assert match, out
    return match.group(0)


def test_bootstrap_then_store_commands_check_roles(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before any principal, the store's operator runs the store commands (bootstrap period).
    assert run_main(["keys", "list"], capsys, monkeypatch).code == 0
    made = run_main(["principals", "bootstrap", "Olga Admin"], capsys, monkeypatch)
    assert made.code == 0, made.err
    admin = _token(made.out)
    again = run_main(["principals", "bootstrap", "Mallory"], capsys, monkeypatch)
    assert again.code == 2 and "an admin exists already" in again.err

    # Now every store command wants a principal token holding the right role.
    refused = run_main(["keys", "create", "-t", "public", "--owner", "x"], capsys, monkeypatch)
    assert refused.code == 2 and "RELEASEGATE_PRINCIPAL_TOKEN" in refused.err
    monkeypatch.setenv("RELEASEGATE_PRINCIPAL_TOKEN", "rgp-" + "x" * 43)
    forged = run_main(["keys", "list"], capsys, monkeypatch)
    assert forged.code == 2 and "invalid principal token" in forged.err
    monkeypatch.setenv("RELEASEGATE_PRINCIPAL_TOKEN", admin)
    ok = run_main(["keys", "create", "-t", "public", "--owner", "x", "--json"], capsys, monkeypatch)
    assert ok.code == 0, ok.err
    key_id = json.loads(ok.out)["id"]

    from releasegate.access import PrincipalStore
    from releasegate.audit import audit_log_from_settings
    from releasegate.settings import Settings
    from releasegate.store import open_store

    engine, sessions = open_store(Settings())
    try:
        audit = audit_log_from_settings(Settings(), sessions)
        _, auditor = PrincipalStore(sessions, audit).create("Aud", ["auditor"], actor="test")
        records = [r for r in audit.records() if r.payload.get("action") == "keys.create"]
        assert records[-1].actor.endswith(":Olga Admin")  # attributed to the person
    finally:
        engine.dispose()
    assert auditor is not None
    monkeypatch.setenv("RELEASEGATE_PRINCIPAL_TOKEN", auditor)
    assert run_main(["keys", "list"], capsys, monkeypatch).code == 0  # auditors read
    denied = run_main(["keys", "revoke", key_id], capsys, monkeypatch)
    assert denied.code == 2 and "needs one of the roles admin; Aud holds auditor" in denied.err
    assert run_main(["decision", "list"], capsys, monkeypatch).code == 0
    assert run_main(["audit", "verify"], capsys, monkeypatch).code == 0
    monkeypatch.delenv("RELEASEGATE_PRINCIPAL_TOKEN")
    for command in (["decision", "list"], ["audit", "verify"], ["signers", "list"]):
        anonymous = run_main(command, capsys, monkeypatch)
        assert anonymous.code == 2 and "RELEASEGATE_PRINCIPAL_TOKEN" in anonymous.err, command


@pytest.mark.parametrize("answer_country", ["GB"])
def test_apply_review_claim_through_the_cli(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer_country: str,
) -> None:
    with access_gateway(f"sqlite:///{tmp_path / 'cli.db'}") as url:
        monkeypatch.setenv("RELEASEGATE_GATEWAY_URL", url)
        monkeypatch.setenv("RELEASEGATE_PRINCIPAL_TOKEN", ADMIN_TOKEN)
        made = run_main(["principals", "create", "Rev", "--role", "reviewer"], capsys, monkeypatch)
        assert made.code == 0, made.err
        reviewer = _token(made.out)
        monkeypatch.delenv("RELEASEGATE_PRINCIPAL_TOKEN")

        tiers = run_main(["access", "tiers"], capsys, monkeypatch)
        assert tiers.code == 0 and "developer" in tiers.out and "closed" in tiers.out
        bad = run_main(
            ["access", "apply", "-t", "public", "--name", "A", "--email", "a@b.example",
             "-a", "country=Britain"],
            capsys, monkeypatch,
        )  # fmt: skip
        assert bad.code == 2 and "answers.country" in bad.err and "answers.affiliation" in bad.err
        applied = run_main(
            ["access", "apply", "-t", "public", "--name", "A \x1b[31mred", "--email",
             "a@b.example", "-a", "affiliation=Uni", "-a", "intended_use=evals",
             "-a", f"country={answer_country}", "--json"],
            capsys, monkeypatch,
        )  # fmt: skip
        assert applied.code == 0, applied.err
        app_id, claim = json.loads(applied.out)["id"], json.loads(applied.out)["claim_token"]

        shown = run_main(
            ["access", "review", "show", app_id, "--token", reviewer], capsys, monkeypatch
        )
        assert shown.code == 0, shown.err
        assert "\x1b" not in shown.out and "\\x1b" in shown.out  # a name cannot restyle
        approve = ["access", "review", "approve", app_id, "--token", reviewer]
        assert "approved (1/1" in run_main(approve, capsys, monkeypatch).out
        status = run_main(["access", "status", app_id, "--claim-token", claim], capsys, monkeypatch)
        assert "approved" in status.out and "claim the key" in status.out
        claimed = run_main(
            ["access", "claim", app_id, "--claim-token", claim, "--json"], capsys, monkeypatch
        )
        assert claimed.code == 0 and json.loads(claimed.out)["key"].startswith("rg-")
        twice = run_main(["access", "claim", app_id, "--claim-token", claim], capsys, monkeypatch)
        assert twice.code == 2 and "410 already_claimed" in twice.err
        # A reviewer cannot publish terms; the gateway says which roles can.
        publish = ["access", "terms", "publish", "public", "--version", "2",
                   "--terms-url", "https://example.org/t/2", "--token", reviewer]  # fmt: skip
        refused = run_main(publish, capsys, monkeypatch)
        assert refused.code == 2 and "role_required" in refused.err


def test_serve_wants_an_admin_principal_or_the_admin_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RELEASEGATE_ADMIN_TOKEN", raising=False)
    refused = run_main(["serve", "--model", "echo:"], capsys, monkeypatch)
    assert refused.code == 2 and "principals bootstrap" in refused.err
    assert run_main(["principals", "bootstrap", "Olga"], capsys, monkeypatch).code == 0
    # With an admin principal the admin check passes; serve goes on to want a decision.
    later = run_main(["serve", "--model", "echo:"], capsys, monkeypatch)
    assert later.code == 2 and "principals bootstrap" not in later.err, later.err
