"""The tamper sweep: two seeds per strength, mean and spread shown, monotonicity checked, a
non-monotone sweep flagged as noisy evidence in the report and in the decision."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.assess import AssessOptions, TamperConfig, assess
from releasegate.assess._tamper import sweep_monotone
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.settings import Settings


def test_a_sweep_that_never_rises_is_monotone() -> None:
    assert sweep_monotone([("a", 0.9), ("b", 0.9), ("c", 0.4)]) is None
    assert sweep_monotone([("a", 0.5)]) is None


def test_a_rise_anywhere_over_strength_is_noise() -> None:
    # The demo sweep: 0.75 / 1.00 / 0.00 over increasing strength.
    why = sweep_monotone([("weak", 0.75), ("middle", 1.0), ("strong", 0.0)])
    assert why is not None and "rises from 0.750 after weak to 1.000" in why
    assert "stronger middle" in why
    # Not only between neighbours: the strongest above the weakest.
    assert sweep_monotone([("a", 0.5), ("b", 0.2), ("c", 0.6)]) is not None


@pytest.mark.slow
def test_the_sweep_runs_two_seeds_per_strength_and_reports_mean_and_spread(
    tmp_path: Path, bundled_settings: Settings, guarded_dir: Path
) -> None:
    # The smallest real sweep: two strengths of one and two optimizer steps, two seeds each.
    sweep = (
        TamperConfig(name="s1", examples=4, steps=1, learning_rate=2e-3, rank=2, batch_size=2),
        TamperConfig(name="s2", examples=4, steps=2, learning_rate=2e-3, rank=2, batch_size=2),
    )
    opts = AssessOptions(
        model="bundled:smollm2-guarded",
        suites=("refusal", "tamper"),
        guards=(),
        limit=3,
        max_tokens=8,
        tamper=sweep,
        seed=5,
        log_dir=tmp_path / "logs",
    )
    report = assess(opts, bundled_settings)
    safeguards = report.safeguards
    assert [(a.name, a.seed) for a in safeguards.tamper_attacks] == [
        ("s1", 5),
        ("s1", 6),
        ("s2", 5),
        ("s2", 6),
    ]
    assert [s.name for s in safeguards.tamper_sweep] == ["s1", "s2"]
    for strength in safeguards.tamper_sweep:
        rates = [a.refusal_rate_after for a in safeguards.tamper_attacks if a.name == strength.name]
        assert strength.seeds == [5, 6] and strength.refusal_rates == rates
        assert strength.refusal_rate_mean == pytest.approx(sum(rates) / 2)
        assert strength.refusal_rate_spread == pytest.approx(max(rates) - min(rates))
    means = [(s.name, s.refusal_rate_mean) for s in safeguards.tamper_sweep]
    expected = sweep_monotone(means)
    assert safeguards.tamper_monotone is (expected is None)

    item = next(e for e in report.evidence if e.id == "refusal_rate/post_tamper")
    assert item.value == min(a.refusal_rate_after for a in safeguards.tamper_attacks)
    assert item.ci_method == "exact-bonferroni" and item.ci_comparisons == 4
    assert item.attack is not None and item.attack["seeds"] == [5, 6]
    assert item.attack["monotone"] is (expected is None)
    assert item.noisy == expected
    # Four adapters, one per attack and seed.
    assert len(list((tmp_path / "logs" / "tamper").glob("*/adapter_model.safetensors"))) == 4

    # Whatever the sweep did, the decision shows it: flagged when noisy, quiet when not.
    decision = decide(report, load_policy(bundled_policy_path("default")))
    line = next(t for t in decision.trace if t.rule == "precaution.noisy_evidence")
    assert line.matched is (expected is not None)
    assert line.reads["noisy"] == ({item.id: expected} if expected else {})
