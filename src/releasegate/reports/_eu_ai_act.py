"""EU AI Act documentation checklist for general-purpose AI models (Regulation (EU) 2024/1689).

Art. 53 applies to every provider of a general-purpose AI model; Art. 55 adds obligations for
models with systemic risk (presumed above 10^25 FLOP of training compute, Art. 51(2)). Each item
lists what the decision record covers, every claim naming its evidence (a report item, a
decision field, a configured tier), and what it does not cover. releasegate documents the
release decision, its evidence and the access it configures; training data, compute and
copyright policy are not part of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from releasegate.evidence import RiskReport
from releasegate.policy import Decision, ReleasePolicy, ReleaseView
from releasegate.reports._facts import (
    Claim,
    evidence_ids,
    monitoring_claims,
    proxy_only_domains,
    safeguard_coverage,
)
from releasegate.vocab import AccessLevel, Component, Condition

Status = Literal["covered", "partial", "missing", "n/a"]


@dataclass
class ChecklistItem:
    article: str
    obligation: str
    status: Status
    covered: list[Claim] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _item(article: str, obligation: str, covered: list[Claim], missing: list[str]) -> ChecklistItem:
    status: Status = "covered" if covered and not missing else "partial" if covered else "missing"
    return ChecklistItem(article, obligation, status, covered, missing)


def _ids(ids: list[str], limit: int = 6) -> str:
    shown = ", ".join(f"`{i}`" for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


@dataclass
class _Inputs:
    decision: Decision
    report: RiskReport
    policy: ReleasePolicy
    release: ReleaseView


def _technical_documentation(x: _Inputs) -> ChecklistItem:
    report = x.report
    covered = []
    if report.evidence:
        tasks = sorted({e.task for e in report.evidence})
        logged = sum(e.log_sha256 is not None for e in report.evidence)
        covered.append(
            Claim(
                f"evaluation results: {len(report.evidence)} evidence items from {len(tasks)} "
                f"tasks, each with n and a CI; {logged} with an evaluation log and its SHA-256",
                f"report evidence {_ids([e.id for e in report.evidence])}",
            )
        )
    if report.tool_versions:
        versions = ", ".join(f"{k} {v}" for k, v in report.tool_versions.items())
        covered.append(Claim(f"tool versions: {versions}", "report tool_versions"))
    identity = report.model.name + (
        f", {report.model.parameter_count:,} parameters" if report.model.parameter_count else ""
    )
    covered.append(
        Claim(
            f"model identity: {identity}",
            "report model"
            + (f"; fingerprint {report.model.fingerprint}" if report.model.fingerprint else ""),
        )
    )
    return _item(
        "Art. 53(1)(a), Annex XI",
        "Technical documentation of the model, including its training and testing process and "
        "the results of its evaluation",
        covered,
        [
            "not covered: architecture, training process and training data (Annex XI, Section 1)",
            "not covered: training compute and energy consumption (Annex XI, Section 1)",
            "not covered: acceptable use policy and intended tasks",
        ],
    )


def _downstream(x: _Inputs) -> ChecklistItem:
    levels = ", ".join(f"{c.value} {lvl.value}" for c, lvl in x.decision.levels.items())
    covered = [Claim(f"release level per component: {levels}", "decision.json levels")]
    if x.release.tiers_evaluated:
        offered = ", ".join(t.spec.name for t in x.release.tiers if t.allowed) or "none"
        covered.append(Claim(f"access tiers the decision allows: {offered}", "policy access_tiers"))
    return _item(
        "Art. 53(1)(b), Annex XII",
        "Information and documentation for downstream providers integrating the model",
        covered,
        ["not covered: intended and prohibited uses, integration instructions, licence"],
    )


def _copyright(x: _Inputs) -> ChecklistItem:
    return _item(
        "Art. 53(1)(c)",
        "A policy to comply with Union copyright law (incl. text-and-data-mining opt-outs)",
        [],
        ["not covered: not part of the release decision record"],
    )


def _training_summary(x: _Inputs) -> ChecklistItem:
    return _item(
        "Art. 53(1)(d)",
        "A sufficiently detailed public summary of the content used for training",
        [],
        ["not covered: not part of the release decision record (AI Office template)"],
    )


def _open_source(x: _Inputs) -> ChecklistItem:
    weights = x.decision.levels.get(Component.WEIGHTS, AccessLevel.CLOSED)
    claim = Claim(f"weights level decided: {weights.value}", "decision.json levels.weights")
    if weights < AccessLevel.OPEN_WEIGHTS:
        return ChecklistItem(
            "Art. 53(2)",
            "Open-source exemption from (1)(a)-(b): free and open-source licence, public "
            "weights, and no systemic risk",
            "n/a",
            [claim],
            ["weights are not public at this level, so the exemption cannot apply"],
        )
    return _item(
        "Art. 53(2)",
        "Open-source exemption from (1)(a)-(b): free and open-source licence, public weights, "
        "and no systemic risk",
        [claim],
        ["not covered: licence terms and the systemic-risk classification (Art. 51)"],
    )


def _evaluation(x: _Inputs) -> ChecklistItem:
    report = x.report
    covered, missing = [], []
    for condition in Condition:
        ids = [e.id for e in report.evidence if e.condition == condition]
        if ids:
            covered.append(
                Claim(f"measured under {condition.value}", f"report evidence {_ids(ids)}")
            )
        else:
            missing.append(f"not covered: no evidence under {condition.value}")
    jailbreak = evidence_ids(report, lambda e: e.metric == "jailbreak_asr")
    if jailbreak:
        covered.append(
            Claim("adversarial testing of the safeguards", f"report evidence {_ids(jailbreak)}")
        )
    else:
        missing.append("not covered: adversarial testing of safeguards (jailbreak_asr)")
    if x.decision.failed_evaluations:
        missing.append(f"failed evaluations: {', '.join(x.decision.failed_evaluations)}")
    proxies = proxy_only_domains(x.decision)
    if proxies:
        missing.append(
            "capability evidence for " + ", ".join(proxies) + " is benign demonstration proxies "
            "only: it shows the method, not the hazard"
        )
    return _item(
        "Art. 55(1)(a)",
        "Model evaluation with state-of-the-art protocols, including documented adversarial "
        "testing",
        covered,
        missing,
    )


def _risk(x: _Inputs) -> ChecklistItem:
    decision = x.decision
    covered = [
        Claim(
            f"domains assessed: {', '.join(d.domain for d in decision.domains)}",
            "decision.json domains",
        ),
        Claim(
            f"policy {x.policy.name} {x.policy.version}: {len(x.policy.rules)} rules, each traced "
            "with the values it read",
            "decision.json trace",
        ),
    ]
    missing = []
    if decision.missing_evidence:
        missing.append(
            f"{len(decision.missing_evidence)} indicator readings without evidence (read as "
            "worst case)"
        )
    for item in safeguard_coverage(decision, x.policy, x.release):
        for claim in item.claims:
            if claim.covered:
                covered.append(Claim(f"mitigation {item.name}: {claim.text}", claim.evidence))
            else:
                missing.append(f"mitigation {item.name}: {claim.text}")
    return _item(
        "Art. 55(1)(b)",
        "Assess and mitigate possible systemic risks, including their sources",
        covered,
        missing,
    )


def _incidents(x: _Inputs) -> ChecklistItem:
    covered = [
        Claim(
            f"reassessment trigger {t.id} ({t.description}); access falls back to "
            f"{t.fallback.value if t.fallback else 'closed'} when it fires",
            f"decision.json reassessment_triggers[{i}]",
        )
        for i, t in enumerate(x.decision.reassessment_triggers)
        if t.kind in ("incidents", "flaw_report")
    ]
    covered += [c for c in monitoring_claims(x.release) if c.covered]
    return _item(
        "Art. 55(1)(c)",
        "Track, document and report serious incidents and corrective measures",
        covered,
        ["not covered: reporting incidents to the AI Office and national authorities"],
    )


def _security(x: _Inputs) -> ChecklistItem:
    weights = x.decision.levels.get(Component.WEIGHTS, AccessLevel.CLOSED)
    covered = []
    if weights <= AccessLevel.RESEARCH_API:
        covered.append(
            Claim(
                f"weights do not leave the developer at {weights.value}",
                "decision.json levels.weights",
            )
        )
    return _item(
        "Art. 55(1)(d)",
        "An adequate level of cybersecurity protection for the model and its infrastructure",
        covered,
        ["not covered: a description of the security measures actually in place"],
    )


_ITEMS: tuple[Callable[[_Inputs], ChecklistItem], ...] = (
    _technical_documentation,
    _downstream,
    _copyright,
    _training_summary,
    _open_source,
    _evaluation,
    _risk,
    _incidents,
    _security,
)


def checklist(
    decision: Decision,
    report: RiskReport,
    policy: ReleasePolicy,
    release: ReleaseView | None = None,
) -> list[ChecklistItem]:
    """What the decision record covers of Art. 53 and Art. 55, and what is not covered.

    Args:
        decision, report, policy: the decision and what it was made from.
        release: its standing (tiers, signatures); default: just decided, tiers not evaluated.
    """
    inputs = _Inputs(decision, report, policy, release or ReleaseView.just_decided(decision))
    return [item(inputs) for item in _ITEMS]


__all__ = ["ChecklistItem", "checklist"]
