"""`releasegate demo`: the whole loop on the bundled model, end to end, at the smallest size."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openai import APIConnectionError, OpenAI

from releasegate._cli.demo import demo_tiers
from releasegate.evidence import example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.reports import DECISION_FILES
from releasegate.vocab import AccessLevel, Component
from tests.helpers.gateway_proc import free_port


@pytest.mark.slow
def test_demo_assesses_decides_and_serves_the_bundled_model(
    tmp_path: Path, smollm2_dir: Path, guarded_dir: Path
) -> None:
    # The model fixtures convert the bundled model once per session and export its cache
    # directory, so the child process (the real console script) reuses it.
    port = free_port()
    exe = Path(sys.executable).parent / "releasegate"
    args = ["demo", "--limit", "1", "--capability-limit", "1", "--port", str(port)]
    env = dict(os.environ, COLUMNS="400", RELEASEGATE_DATA_DIR=str(tmp_path / "data"))
    env.pop("RELEASEGATE_ADMIN_TOKEN", None)  # the demo makes one up
    proc = subprocess.Popen(
        [str(exe), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        out = "".join(lines)
        assert "press Ctrl-C" in out, out[-3000:]
        key = re.search(r"demo key \((\w+) tier\): (rg-[\w-]+)", out)
        assert key is not None, out[-3000:]
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key.group(2))
        models = None
        for _ in range(600):  # the server loads the model before it listens
            try:
                models = client.models.list()
                break
            except APIConnectionError:
                if proc.poll() is not None:
                    pytest.fail("the demo's server exited:\n" + proc.stdout.read()[-3000:])
                time.sleep(0.1)
        assert models is not None, "the demo's server never answered"
        # Served under its short name; the entry carries the signed decision's state.
        assert [m.id for m in models.data] == ["smollm2-guarded"]
        meta = models.data[0].model_extra["releasegate"]  # type: ignore[index]
        assert meta["status"] == "approved" and meta["reviewed"] is True
        assert meta["fingerprint"].startswith("sha256:") and meta["fingerprint_verified"]
        answer = client.chat.completions.create(
            model="smollm2-guarded",
            messages=[{"role": "user", "content": "Name three primary colours."}],
            max_tokens=16,
        )
        assert answer.choices[0].message.content
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate()
    assert proc.returncode in (0, -signal.SIGINT, 130), rest[-3000:]

    report = json.loads((tmp_path / "demo-out" / "report.json").read_text())
    assert report["model"]["name"] == "bundled:smollm2-guarded"
    assert report["baselines"][0]["name"] == "bundled:smollm2"
    metrics = {(e["metric"], e["condition"]) for e in report["evidence"]}
    assert ("refusal_rate", "post_tamper") in metrics
    assert ("mcq_accuracy", "pre_mitigation") in metrics
    decision_dir = tmp_path / "demo-out" / "decision"
    # The documents, re-rendered once the demo signers signed, with what verifies them.
    assert sorted(p.name for p in decision_dir.iterdir()) == sorted(
        [*DECISION_FILES, "signatures.json", "signers.json", "verify_decision.py"]
    )
    decision = json.loads((decision_dir / "decision.json").read_text())
    assert decision["model"]["name"] == "bundled:smollm2-guarded"
    assert decision["model"]["fingerprint"].startswith("sha256:")
    assert "most open level" in out and "signed with key" in out
    assert "**Status: approved**" in (decision_dir / "model-card.md").read_text()
    keys = sorted(p.name for p in (tmp_path / "demo-out" / "keys").iterdir())
    assert keys == ["release_lead.pem", "safety_lead.pem"]
    verified = subprocess.run(
        [sys.executable, str(decision_dir / "verify_decision.py"), str(decision_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout
    # The demo ends in the first stage of its staged release; `stage status` shows what the
    # next gate needs.
    assert "entered stage red_team" in out and "gate to enter named_users" in out
    assert key.group(1) == "red_team"
    assert "## Staged release" in (decision_dir / "decision.md").read_text()
    status = subprocess.run(
        [str(exe), "stage", "status", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["stage"] == "red_team" and data["next"] == "named_users"
    assert {i["item"] for i in data["gate"]} == {
        "decision",
        "min_time",
        "incidents",
        "evidence",
        "signoffs",
    }


def _decision_for(example: str):  # type: ignore[no-untyped-def]
    policy = load_policy(bundled_policy_path("default"))
    return decide(load_report(example_report_path(example)), policy)


def test_demo_serves_the_default_tiers_the_decision_allows() -> None:
    decision = _decision_for("missing-tamper")
    assert decision.levels[Component.WEIGHTS] is AccessLevel.API
    assert set(demo_tiers(decision)) == {"public", "developer", "red_team", "named"}


def test_demo_serves_named_users_only_at_hosted() -> None:
    decision = _decision_for("missing-tamper")
    hosted = decision.model_copy(
        update={"levels": {**decision.levels, Component.WEIGHTS: AccessLevel.HOSTED}}
    )
    tiers = demo_tiers(hosted)
    assert list(tiers) == ["red_team", "named"]
    assert all(t.named_users for t in tiers.values())


def test_demo_serves_nothing_for_a_halted_decision() -> None:
    decision = _decision_for("critical-bio-proxy")
    assert decision.status == "halted"
    assert demo_tiers(decision) == {}
