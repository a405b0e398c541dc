"""The guarded bundled model: it refuses more than the plain one (marginal-risk path with a
bootstrap CI), and a small LoRA fine-tuning attack really changes its weights and lowers its
refusal rate (the tamper sweep)."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.assess import AssessOptions, TamperConfig, assess
from releasegate.settings import Settings
from releasegate.vocab import Condition

pytestmark = pytest.mark.slow

LIMIT = 6


def test_guarded_refuses_more_than_plain(
    tmp_path: Path, bundled_settings: Settings, smollm2_dir: Path, guarded_dir: Path
) -> None:
    opts = AssessOptions(
        model="bundled:smollm2-guarded",
        baseline="bundled:smollm2",
        suites=("refusal",),
        guards=(),
        limit=LIMIT,
        max_tokens=16,
        log_dir=tmp_path / "logs",
    )
    report = assess(opts, bundled_settings)
    pre = next(e for e in report.evidence if e.id == "refusal_rate/pre_mitigation")
    assert pre.baseline is not None and pre.baseline.model == "bundled:smollm2"
    assert pre.value > pre.baseline.value  # the adapter's refusal training shows
    assert pre.baseline.uplift == pytest.approx(pre.value - pre.baseline.value)
    ci = pre.baseline.uplift_ci95
    assert ci is not None and ci.low <= pre.baseline.uplift <= ci.high
    assert [b.name for b in report.baselines] == ["bundled:smollm2"]


def test_tamper_changes_weights_and_lowers_refusal(
    tmp_path: Path, bundled_settings: Settings, guarded_dir: Path
) -> None:
    from safetensors.numpy import load_file

    attack = TamperConfig(name="small", examples=20, steps=12, learning_rate=2e-3, rank=4)
    opts = AssessOptions(
        model="bundled:smollm2-guarded",
        suites=("refusal", "tamper"),
        guards=(),
        limit=LIMIT,
        max_tokens=16,
        tamper=(attack,),
        tamper_seeds=1,
        log_dir=tmp_path / "logs",
    )
    report = assess(opts, bundled_settings)
    by_id = {e.id: e for e in report.evidence}
    before = by_id["refusal_rate/pre_mitigation"].value
    after = by_id["refusal_rate/post_tamper"]
    assert after.condition == Condition.POST_TAMPER
    assert after.value < before
    assert report.safeguards.tamper_worst_refusal_rate == after.value
    [record] = report.safeguards.tamper_attacks
    assert (record.name, record.examples, record.steps) == ("small", 20, 12)
    assert record.wall_time_s > 0
    # LoRA's B matrices start at zero: a non-zero B means the merged weights moved.
    [adapter] = list((tmp_path / "logs" / "tamper").glob("*/adapter_model.safetensors"))
    tensors = load_file(str(adapter))
    b = [v for k, v in tensors.items() if "lora_B" in k]
    assert b and max(float(abs(v).max()) for v in b) > 0
