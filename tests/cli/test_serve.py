"""`releasegate serve` refuses to start when it must, naming the reason; exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.policy import decision_content_sha256, decision_json_bytes
from releasegate.vocab import AccessLevel
from tests.helpers.cli import run_main
from tests.helpers.gateway import ADMIN_TOKEN, decision_at


def _decision_file(tmp_path: Path, level: AccessLevel, *, rehash: bool = True) -> Path:
    decision = decision_at(level)
    if rehash:
        decision = decision.model_copy(update={"content_sha256": decision_content_sha256(decision)})
    path = tmp_path / f"decision-{level.value}.json"
    path.write_bytes(decision_json_bytes(decision))
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RELEASEGATE_ADMIN_TOKEN", ADMIN_TOKEN)
    return lambda *args: run_main([str(a) for a in args], capsys, monkeypatch)


def test_serve_refuses_tiers_above_the_decision(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    decision = _decision_file(tmp_path, AccessLevel.API)
    result = cli("serve", "--model", "bundled:smollm2", "--decision", decision)
    assert result.code == 2
    assert "refusing to serve" in result.err
    assert "tier 'researcher'" in result.err and "tier-above-decision" in result.err


def test_serve_refuses_an_edited_decision_and_a_missing_token(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = _decision_file(tmp_path, AccessLevel.RESEARCH_API, rehash=False)
    result = cli("serve", "--model", "bundled:smollm2", "--decision", edited)
    assert result.code == 2
    assert "was edited after" in result.err
    monkeypatch.delenv("RELEASEGATE_ADMIN_TOKEN")
    good = _decision_file(tmp_path, AccessLevel.RESEARCH_API)
    result = cli("serve", "--model", "bundled:smollm2", "--decision", good)
    assert result.code == 2
    assert "RELEASEGATE_ADMIN_TOKEN" in result.err


def test_serve_refuses_a_policy_that_is_not_the_decisions(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = _decision_file(tmp_path, AccessLevel.RESEARCH_API)
    result = cli(
        "serve", "--model", "bundled:smollm2", "--decision", good, "--policy", "conservative"
    )
    assert result.code == 2
    assert "not the one the decision was made under" in result.err


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
