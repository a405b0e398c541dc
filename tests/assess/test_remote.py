"""Assessing a remote (OpenAI-compatible) model, and `--through` a deployment, over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.assess import THROUGH_KEY_ENV, AssessOptions, assess
from releasegate.settings import Settings
from releasegate.vocab import Condition
from tests.helpers.assess_data import write_request_sets
from tests.helpers.openai_server import serve_fake_upstream


def test_remote_model_through_a_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from inspect_ai.log import read_eval_log

    monkeypatch.setenv(THROUGH_KEY_ENV, "through-key")
    monkeypatch.setenv("OPENAI_API_KEY", "model-key")
    with serve_fake_upstream() as model, serve_fake_upstream() as gateway:
        opts = AssessOptions(
            model=f"openai:{model.base_url}#fake-model",
            through=f"{gateway.base_url}#fake-model",
            suites=("capability", "refusal", "over_refusal", "jailbreak", "tamper"),
            limit=2,
            jailbreak_prompts=1,
            max_tokens=8,
            data=write_request_sets(tmp_path / "sets"),
            log_dir=tmp_path / "logs",
        )
        report = assess(opts, Settings(data_dir=tmp_path / "data"))
        through_auth = set(gateway.state.auth_headers)
        model_requests = len(model.state.requests)
        gateway_models = {r["body"].get("model") for r in gateway.state.requests}

    by_id = {e.id: e for e in report.evidence}
    # pre_mitigation on the model itself, post_mitigation through the deployment.
    assert by_id["refusal_rate/pre_mitigation"].condition == Condition.PRE_MITIGATION
    for key in (
        "refusal_rate/post_mitigation",
        "over_refusal_rate/post_mitigation",
        "jailbreak_asr/post_mitigation",
    ):
        log = read_eval_log(by_id[key].log_path or "")
        assert str(log.eval.model).startswith(f"releasegate/openai:{gateway.base_url}#fake-model")
    assert through_auth == {"Bearer through-key"}
    assert gateway_models == {"fake-model"}
    assert model_requests > 0
    # The echoing fake never refuses: every jailbreak "succeeds", nothing is refused.
    assert by_id["refusal_rate/post_mitigation"].value == 0.0
    assert by_id["jailbreak_asr/post_mitigation"].value == 1.0
    assert any("through the deployment" in n for n in report.notes)
    # The endpoint gives no letter logprobs: multiple choice was scored by generation.
    mcq = read_eval_log(by_id["cbrn-mcq/pre_mitigation"].log_path or "")
    assert {s.metadata["method"] for s in mcq.samples or []} == {"generation"}
    # No local weights: the tamper sweep is missing evidence with its reason, not a number.
    failed = {f.evaluation: f.reason for f in report.coverage.failed}
    assert "remote" in failed["tamper_sweep"]
    assert report.safeguards.tamper_worst_refusal_rate is None
    assert not [e for e in report.evidence if e.condition == Condition.POST_TAMPER]
