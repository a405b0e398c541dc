"""Policy loading: bundled policies are sound; each kind of bad policy is named by path+line."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.errors import InputError
from releasegate.policy import BUNDLED_POLICIES, bundled_policy_path, load_policy

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEXT = (ROOT / "policies" / "default.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", BUNDLED_POLICIES)
def test_bundled_policies_load_and_match_the_repo_copies(name: str) -> None:
    bundled = bundled_policy_path(name)
    assert bundled.read_bytes() == (ROOT / "policies" / f"{name}.yaml").read_bytes()
    policy = load_policy(bundled)
    assert policy.name == name
    assert policy.signoff.required <= len(policy.signoff.roles)


def test_default_policy_binds_the_metric_names_of_the_assessment() -> None:
    policy = load_policy(bundled_policy_path())
    assert {"mcq_accuracy", "refusal_rate", "over_refusal_rate", "jailbreak_asr"} <= set(
        policy.metrics
    )
    assert set(policy.domains) == {"cbrn", "cyber", "persuasion", "autonomy"}
    # Every rule says where it comes from.
    assert all(rule.source for rule in policy.rules)


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def _mutated(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    assert DEFAULT_TEXT.count(old) == 1, old
    text = DEFAULT_TEXT.replace(old, new)
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


# (old text, new text, expected field path, text on the expected line, words in the message)
BAD_POLICIES = {
    "unknown level": (
        "cap: {weights: hosted, training_data: closed, training_code: closed}",
        "cap: {weights: hostd, training_data: closed, training_code: closed}",
        "rules[1].then.cap.weights",
        "cap: {weights: hostd",
        "unknown name 'hostd'",
    ),
    "unknown component": (
        "cap: {weights: hosted, training_data: closed, training_code: closed}",
        "cap: {weights: hosted, trainig_data: closed, training_code: closed}",
        "rules[1].then.cap.trainig_data",
        "trainig_data",
        "unknown name",
    ),
    "unknown domain": (
        "when: {domain: cbrn, effective: weights, tier_at_least: medium}",
        "when: {domain: bio, effective: weights, tier_at_least: medium}",
        "rules[5].when.domain",
        "domain: bio",
        "unknown domain 'bio'",
    ),
    "unknown metric": (
        "      - id: cyber_refusal\n        metric: refusal_rate",
        "      - id: cyber_refusal\n        metric: refusal_ratio",
        "domains.cyber.indicators[1].metric",
        "metric: refusal_ratio",
        "unknown metric 'refusal_ratio'",
    ),
    "unknown tier": (
        "when: {domain: any, effective: api, tier_at_least: critical}",
        "when: {domain: any, effective: api, tier_at_least: severe}",
        "rules[0].when.tier_at_least",
        "tier_at_least: severe",
        "unknown name 'severe'",
    ),
    "cutoffs out of order": (
        "cutoffs: {medium: 0.05, high: 0.10, critical: 0.20}",
        "cutoffs: {medium: 0.05, high: 0.30, critical: 0.20}",
        "domains.cbrn.indicators[0].cutoffs.critical",
        "high: 0.30, critical: 0.20",
        "out of order",
    ),
    "lower_is_worse cutoffs out of order": (
        "cutoffs: {medium: 0.98, high: 0.93, critical: 0.80}",
        "cutoffs: {medium: 0.80, high: 0.93, critical: 0.98}",
        "domains.cbrn.indicators[1].cutoffs.high",
        "medium: 0.80, high: 0.93",
        "must be above",
    ),
    "cutoff out of range": (
        "cutoffs: {medium: 0.55, high: 0.70, critical: 0.85}",
        "cutoffs: {medium: 0.55, high: 0.70, critical: 1.5}",
        "domains.persuasion.indicators[0].cutoffs.critical",
        "critical: 1.5",
        "outside",
    ),
    "NaN cutoff": (
        "cutoffs: {medium: 0.55, high: 0.70, critical: 0.85}",
        "cutoffs: {medium: 0.55, high: .nan, critical: 0.85}",
        "domains.persuasion.indicators[0].cutoffs.high",
        "high: .nan",
        "finite",
    ),
    "rule reads a metric no indicator defines": (
        "when: {metric: jailbreak_asr, condition: post_mitigation, at_least: 0.2}",
        "when: {metric: over_refusal_rate, condition: post_mitigation, at_least: 0.2}",
        "rules[7].when.metric",
        "metric: over_refusal_rate",
        "no indicator defines",
    ),
    "rule reads a metric in its better direction": (
        "- {metric: refusal_rate, condition: post_tamper, at_most: 0.5}",
        "- {metric: refusal_rate, condition: post_tamper, at_least: 0.5}",
        "rules[6].when.all[0].at_least",
        "at_least: 0.5",
        "use `at_most`",
    ),
    "duplicate indicator id": (
        "      - id: cyber_refusal\n",
        "      - id: cbrn_refusal\n",
        "domains.cyber.indicators[1].id",
        "id: cbrn_refusal\n        metric: refusal_rate\n        role: safeguard\n        "
        "conditions: [post_mitigation, post_tamper]\n        cutoffs: {medium: 0.95",
        "duplicate indicator id",
    ),
    "duplicate rule id": (
        "  - id: cyber-needs-misuse-monitoring",
        "  - id: agentic-risk-needs-tool-limits",
        "rules[9].id",
        "  - id: agentic-risk-needs-tool-limits\n    description: cyber",
        "duplicate rule id",
    ),
    "unknown safeguard": (
        "        weights: [adversarial_monitoring]",
        "        weights: [adversarial_monitorin]",
        "rules[7].then.require_safeguards.weights[0]",
        "weights: [adversarial_monitorin]",
        "unknown safeguard",
    ),
    "more signatures than roles": (
        "  required: 2\n",
        "  required: 4\n",
        "signoff",
        "signoff:",
        "exceeds",
    ),
    "unknown field": (
        "precaution:\n  components",
        "precaution:\n  stepz: 1\n  components",
        "precaution.stepz",
        "stepz",
        "unknown field",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_POLICIES))
def test_bad_policy_names_file_path_and_line(tmp_path: Path, case: str) -> None:
    old, new, field_path, line_text, words = BAD_POLICIES[case]
    path, text = _mutated(tmp_path, old, new)
    with pytest.raises(InputError) as info:
        load_policy(path)
    message = str(info.value)
    expected_line = _line_of(text, line_text)
    assert f"{path}:{expected_line}: {field_path}: " in message, message
    assert words in message


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("name: x\nversion: '1'\nmetrics: {a: [1, 2\ndomains: {}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}:")
    assert "malformed YAML" in str(info.value)
    assert info.value.problems[0].line is not None


def test_missing_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_policy(tmp_path / "nope.yaml")
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(InputError, match="must be a mapping"):
        load_policy(path)


def test_bundled_example_reports_match_the_repo_copies() -> None:
    from releasegate.evidence import EXAMPLE_REPORTS, example_report_path, load_report

    for name in EXAMPLE_REPORTS:
        bundled = example_report_path(name)
        assert bundled.read_bytes() == (ROOT / "examples" / "reports" / f"{name}.json").read_bytes()
        load_report(bundled)
