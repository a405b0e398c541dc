"""EU AI Act documentation checklist for general-purpose AI models (Regulation (EU) 2024/1689).

Art. 53 applies to every provider of a general-purpose AI model; Art. 55 adds obligations for
models with systemic risk (presumed above 10^25 FLOP of training compute, Art. 51(2)). Each item
says what the decision record covers and what it does not: releasegate documents the release
decision and its evidence, not training data, compute or copyright policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from releasegate.evidence import RiskReport
from releasegate.policy import Decision, ReleasePolicy
from releasegate.vocab import AccessLevel, Component, Condition

Status = Literal["covered", "partial", "missing", "n/a"]


@dataclass
class ChecklistItem:
    article: str
    obligation: str
    status: Status
    covered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def checklist(decision: Decision, report: RiskReport, policy: ReleasePolicy) -> list[ChecklistItem]:
    """What the decision record covers of Art. 53 and Art. 55, and what is missing."""
    return [
        _technical_documentation(report),
        *_documentation_outside_the_record(),
        _open_source_exemption(decision),
        _evaluation(decision, report),
        _systemic_risk(decision, policy),
        _incidents(decision),
        _cybersecurity(decision),
    ]


def _weights(decision: Decision) -> tuple[AccessLevel, list[str]]:
    level = decision.levels.get(Component.WEIGHTS, AccessLevel.CLOSED)
    return level, list(decision.required_safeguards.get(Component.WEIGHTS, []))


def _technical_documentation(report: RiskReport) -> ChecklistItem:
    tasks = sorted({e.task for e in report.evidence})
    versions = ", ".join(f"{k} {v}" for k, v in report.tool_versions.items())
    size = f", {report.model.parameter_count:,} parameters" if report.model.parameter_count else ""
    return ChecklistItem(
        "Art. 53(1)(a), Annex XI",
        "Technical documentation of the model, including its training and testing process "
        "and the results of its evaluation",
        "partial",
        covered=[
            f"evaluation results: {len(report.evidence)} evidence items from "
            f"{len(tasks)} tasks ({', '.join(tasks) or 'none'}), each with n, CI and log",
            f"tool versions: {versions}" if versions else "tool versions: not recorded",
            f"model identity: {report.model.name}{size}",
        ],
        missing=[
            "architecture, training process and training data (Annex XI, Section 1)",
            "training compute and energy consumption (Annex XI, Section 1)",
            "acceptable use policy and intended tasks",
        ],
    )


def _documentation_outside_the_record() -> list[ChecklistItem]:
    """Art. 53(1)(b)-(d): downstream information, copyright policy, training-content summary."""
    return [
        ChecklistItem(
            "Art. 53(1)(b), Annex XII",
            "Information and documentation for downstream providers integrating the model",
            "partial",
            covered=[
                "model-card.md: release level per component, required safeguards, access routes",
                "decision.md: the rationale and the risk tiers per domain",
            ],
            missing=["intended and prohibited uses, integration instructions, licence"],
        ),
        ChecklistItem(
            "Art. 53(1)(c)",
            "A policy to comply with Union copyright law (incl. text-and-data-mining opt-outs)",
            "missing",
            missing=["not part of the release decision record"],
        ),
        ChecklistItem(
            "Art. 53(1)(d)",
            "A sufficiently detailed public summary of the content used for training",
            "missing",
            missing=["not part of the release decision record (AI Office template)"],
        ),
    ]


def _open_source_exemption(decision: Decision) -> ChecklistItem:
    weights, _ = _weights(decision)
    open_release = weights >= AccessLevel.OPEN_WEIGHTS
    return ChecklistItem(
        "Art. 53(2)",
        "Open-source exemption from (1)(a)-(b): free and open-source licence, public "
        "weights, and no systemic risk",
        "n/a" if not open_release else "partial",
        covered=[f"weights level decided: {weights.value}"],
        missing=(
            ["licence terms and the systemic-risk classification (Art. 51) are not recorded"]
            if open_release
            else ["weights are not public at this level, so the exemption cannot apply"]
        ),
    )


def _evaluation(decision: Decision, report: RiskReport) -> ChecklistItem:
    conditions = {e.condition for e in report.evidence}
    jailbreak = [e for e in report.evidence if e.metric == "jailbreak_asr"]
    tamper = [e for e in report.evidence if e.condition == Condition.POST_TAMPER]
    missing = []
    if not jailbreak:
        missing.append("adversarial testing of safeguards (jailbreak_asr) has no evidence")
    if not tamper:
        missing.append("no post_tamper evidence (fine-tuning attacks)")
    if decision.failed_evaluations:
        missing.append(f"failed evaluations: {', '.join(decision.failed_evaluations)}")
    return ChecklistItem(
        "Art. 55(1)(a)",
        "Model evaluation with state-of-the-art protocols, including documented adversarial "
        "testing",
        "covered" if not missing else "partial",
        covered=[
            "conditions measured: " + ", ".join(sorted(c.value for c in conditions)),
            f"jailbreak evidence items: {len(jailbreak)}; tamper evidence items: {len(tamper)}",
        ],
        missing=missing,
    )


def _systemic_risk(decision: Decision, policy: ReleasePolicy) -> ChecklistItem:
    missing = []
    if decision.missing_evidence:
        missing.append(
            f"{len(decision.missing_evidence)} indicator readings without evidence (read as "
            "worst case)"
        )
    return ChecklistItem(
        "Art. 55(1)(b)",
        "Assess and mitigate possible systemic risks, including their sources",
        "covered" if not missing else "partial",
        covered=[
            f"domains assessed: {', '.join(d.domain for d in decision.domains)}",
            f"policy {policy.name} {policy.version}: {len(policy.rules)} rules traced",
            "mitigations: required safeguards per component and level",
        ],
        missing=missing,
    )


def _incidents(decision: Decision) -> ChecklistItem:
    _, safeguards = _weights(decision)
    covered = []
    if any("incident" in t.id for t in decision.reassessment_triggers):
        covered.append("an incident triggers reassessment (policy trigger)")
    if "incident_response" in safeguards:
        covered.append("incident_response safeguard required")
    return ChecklistItem(
        "Art. 55(1)(c)",
        "Track, document and report serious incidents and corrective measures",
        "partial",
        covered=covered,
        missing=["incident records and reports to the AI Office are kept outside this record"],
    )


def _cybersecurity(decision: Decision) -> ChecklistItem:
    weights, safeguards = _weights(decision)
    required = "weight_security" in safeguards
    security = required or weights <= AccessLevel.HOSTED
    if required:
        covered = ["weight_security is a required safeguard"]
    else:
        covered = ["weights do not leave the developer"] if security else []
    return ChecklistItem(
        "Art. 55(1)(d)",
        "An adequate level of cybersecurity protection for the model and its infrastructure",
        "partial" if security else "missing",
        covered=covered,
        missing=["a description of the security measures actually in place"],
    )


__all__ = ["ChecklistItem", "checklist"]
