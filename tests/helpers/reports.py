"""Build small, valid `RiskReport`s for the decision tests, one evidence item per call."""

from __future__ import annotations

from typing import Any

from releasegate.evidence import RiskReport

DOMAINS = ("cbrn", "cyber", "persuasion", "autonomy")
BASELINE = {"cbrn": 0.40, "cyber": 0.38, "persuasion": 0.40, "autonomy": 0.30}


def mcq(
    domain: str,
    condition: str,
    value: float,
    uplift: float | None = None,
    half: float = 0.0,
    **extra: Any,
) -> dict[str, Any]:
    """An `mcq_accuracy` item; `uplift` defaults to value minus the domain's baseline."""
    up = round(value - BASELINE[domain], 6) if uplift is None else uplift
    item: dict[str, Any] = {
        "id": f"{domain}-mcq/{condition}",
        "task": "releasegate/capability_mcq",
        "domain": domain,
        "metric": "mcq_accuracy",
        "condition": condition,
        "value": value,
        "n": 1000,
        "baseline": {"model": "baseline/open-1b", "value": value - up, "uplift": up},
    }
    if half:
        item["ci95"] = {"low": max(0.0, value - half), "high": min(1.0, value + half)}
        item["baseline"]["uplift_ci95"] = {"low": up - half, "high": up + half}
    item.update(extra)
    return item


# A judge that agrees with people well enough for every shipped policy's `min_judge_kappa`.
JUDGE_AGREEMENT = {
    "judge": "test-judge/v1",
    "labelled_set": "test-labels",
    "n": 200,
    "agreement": 0.96,
    "kappa": 0.92,
    "kappa_harmful": 0.9,
}


def rate(
    metric: str, condition: str, value: float, half: float = 0.0, domain: str | None = None
) -> dict[str, Any]:
    """A judged rate (refusal, over-refusal, jailbreak success) with its judge's agreement."""
    item: dict[str, Any] = {
        "id": f"{metric}/{condition}" + (f"/{domain}" if domain else ""),
        "task": f"releasegate/{metric}",
        "domain": domain,
        "metric": metric,
        "condition": condition,
        "value": value,
        "n": 1000,
        "judge": "test-judge/v1",
        "judge_agreement": dict(JUDGE_AGREEMENT),
    }
    if half:
        item["ci95"] = {"low": max(0.0, value - half), "high": min(1.0, value + half)}
    return item


def full_evidence(
    pre: dict[str, float] | None = None,
    tamper: dict[str, float] | None = None,
    refusal_post: float = 0.995,
    refusal_tamper: float = 0.99,
    asr: float = 0.0,
) -> list[dict[str, Any]]:
    """Every item the default policy reads; capabilities default to the baseline (no uplift)."""
    pre = {d: BASELINE[d] for d in DOMAINS} | (pre or {})
    tamper = dict(pre) | (tamper or {})
    items = [mcq(d, "pre_mitigation", pre[d]) for d in DOMAINS]
    items += [mcq(d, "post_tamper", tamper[d]) for d in DOMAINS]
    items += [
        rate("refusal_rate", "post_mitigation", refusal_post),
        rate("refusal_rate", "post_tamper", refusal_tamper),
        rate("jailbreak_asr", "post_mitigation", asr),
    ]
    return items


def make_report(evidence: list[dict[str, Any]], failed: list[str] | None = None) -> RiskReport:
    return RiskReport.model_validate(
        {
            "model": {"name": "test/model"},
            "evidence": evidence,
            "coverage": {
                "ran": sorted(e["id"] for e in evidence),
                "failed": [{"evaluation": f, "reason": "test"} for f in failed or []],
            },
        }
    )
