"""`RiskReport`: the evidence a release decision rests on, as written by `releasegate assess`."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from releasegate.vocab import Condition

SCHEMA_VERSION: Literal["1"] = "1"


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number (NaN and infinity are not evidence)")
    return value


Finite = Annotated[float, AfterValidator(_finite)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 digest")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelIdentity(_Strict):
    """Which model was measured."""

    name: str = Field(description="model spec or name, e.g. 'bundled:smollm2-guarded'")
    revision: str | None = Field(default=None, description="revision, commit or tag")
    weights_sha256: Sha256 | None = Field(
        default=None, description="SHA-256 of the weights file(s), where the weights are local"
    )
    parameter_count: int | None = Field(default=None, ge=0)
    fingerprint: str | None = Field(
        default=None,
        pattern=r"^(sha256:[0-9a-f]{64}|declared:.+)$",
        description="what `serve` recomputes to check it serves this model: 'sha256:<hex>' over "
        "the weight files and adapter of a local model (verified), or 'declared:<model id>' for "
        "a remote endpoint, which only declares its model (unverified)",
    )


class ConfidenceInterval(_Strict):
    """A 95% confidence interval."""

    low: Finite
    high: Finite

    @model_validator(mode="after")
    def _ordered(self) -> ConfidenceInterval:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self


EvidenceKind = Literal["demonstration_proxy", "benchmark", "external"]
CiMethod = Literal["wilson", "exact-bonferroni", "bootstrap", "normal"]


class DatasetRef(_Strict):
    name: str
    sha256: Sha256 | None = None
    demonstration_proxy: bool = Field(
        default=False,
        description="true for benign proxy sets that demonstrate the method, not measure hazard",
    )


class JudgeAgreement(_Strict):
    """How well the judge that scored an item agrees with human labels, as measured.

    A policy's `min_judge_kappa` reads `kappa`: evidence from a judge below it, or from a judge
    whose agreement is not stated, is read as missing (precaution).
    """

    judge: str = Field(description="the judge and its version, e.g. releasegate-refusal-judge/v2")
    labelled_set: str = Field(description="the labelled responses it was checked against")
    labelled_set_sha256: Sha256 | None = None
    n: int = Field(ge=0, description="labelled responses checked")
    agreement: Finite = Field(ge=0, le=1, description="share of responses judged as labelled")
    kappa: Finite | None = Field(
        ge=-1, le=1, description="Cohen's kappa (refused vs not); null when undefined"
    )
    kappa_harmful: Finite | None = Field(
        default=None, ge=-1, le=1, description="Cohen's kappa on responses to harmful requests"
    )


class BaselineComparison(_Strict):
    """Marginal risk (Kapoor et al. 2024): the same measurement on the best already-open model."""

    model: str
    value: Finite
    uplift: Finite = Field(description="subject value minus baseline value")
    uplift_ci95: ConfidenceInterval | None = Field(
        default=None, description="bootstrap 95% CI of the uplift"
    )


class EvidenceItem(_Strict):
    """One measured number, with everything needed to check where it came from."""

    id: str = Field(description="unique within the report, e.g. 'cbrn-mcq/pre_mitigation'")
    task: str = Field(description="evaluation task, e.g. 'releasegate/capability_mcq'")
    domain: str | None = Field(default=None, description="risk domain the item bears on")
    metric: str = Field(description="metric name that policy indicators bind to")
    condition: Condition
    value: Finite
    stderr: Finite | None = Field(default=None, ge=0)
    ci95: ConfidenceInterval | None = None
    ci_method: CiMethod | None = Field(
        default=None,
        description="how ci95 was computed: 'wilson' (score interval of a rate), "
        "'exact-bonferroni' (the worst of `ci_comparisons` rates: each rate's Clopper-Pearson "
        "interval at 1 - 0.05/k, and the worst of their bounds), 'bootstrap' or 'normal'; null "
        "when not stated (older reports, external evidence)",
    )
    ci_comparisons: int | None = Field(
        default=None,
        ge=1,
        description="with 'exact-bonferroni': how many configurations the worst was taken over",
    )
    n: int = Field(ge=0, description="number of samples scored")
    sample_ids: list[str] | None = Field(
        default=None,
        description="ids of the samples scored (the seeded, stratified sample of `sampling`); "
        "null in reports written before they were recorded",
    )
    dataset: DatasetRef | None = None
    attack: dict[str, Any] | None = Field(
        default=None, description="attack configuration (jailbreak transform, fine-tuning run)"
    )
    judge: str | None = Field(default=None, description="scorer or judge model used")
    judge_agreement: JudgeAgreement | None = Field(
        default=None, description="the judge's measured agreement with human labels"
    )
    log_path: str | None = Field(default=None, description="path of the evaluation log")
    log_sha256: Sha256 | None = None
    baseline: BaselineComparison | None = None
    noisy: str | None = Field(
        default=None,
        description="why this evidence is noisy (e.g. a tamper sweep that is not monotone over "
        "attack strength); decisions list it in their trace. null when not flagged",
    )
    evidence_kind: EvidenceKind = Field(
        default="external",
        description="demonstration_proxy: a bundled benign proxy set that demonstrates the method; "
        "benchmark: a published benchmark run by `assess` (e.g. inspect_evals WMDP via --data); "
        "external: measured elsewhere and brought in. An item whose dataset is a demonstration "
        "proxy is always demonstration_proxy.",
    )

    @model_validator(mode="before")
    @classmethod
    def _proxy_kind(cls, data: Any) -> Any:
        # A proxy set never counts as anything but a proxy, whatever the file says.
        if isinstance(data, dict):
            dataset = data.get("dataset")
            proxy = (
                dataset.get("demonstration_proxy")
                if isinstance(dataset, dict)
                else getattr(dataset, "demonstration_proxy", False)
            )
            if proxy:
                data = {**data, "evidence_kind": "demonstration_proxy"}
        return data


class TamperAttack(_Strict):
    """One fine-tuning attack of the tamper sweep and what it cost the attacker."""

    name: str
    seed: int | None = Field(default=None, description="its training seed (null in older reports)")
    examples: int = Field(ge=0)
    steps: int = Field(ge=0)
    learning_rate: Finite
    wall_time_s: Finite = Field(ge=0)
    refusal_rate_after: Finite = Field(ge=0, le=1)


class TamperStrength(_Strict):
    """One attack strength of the sweep over its seeds: the refusal rates it left."""

    name: str
    seeds: list[int]
    refusal_rates: list[Finite] = Field(description="refusal rate after the attack, per seed")
    refusal_rate_mean: Finite = Field(ge=0, le=1)
    refusal_rate_spread: Finite = Field(ge=0, le=1, description="largest minus smallest rate")


class SafeguardMetrics(_Strict):
    """Summary of safeguard robustness; every number here is also an evidence item."""

    refusal_rate: Finite | None = Field(default=None, ge=0, le=1)
    over_refusal_rate: Finite | None = Field(default=None, ge=0, le=1)
    jailbreak_asr: Finite | None = Field(
        default=None, ge=0, le=1, description="worst-case attack success rate over transforms"
    )
    jailbreak_asr_by_attack: dict[str, Finite] = Field(default_factory=dict)
    tamper_worst_refusal_rate: Finite | None = Field(default=None, ge=0, le=1)
    tamper_attacks: list[TamperAttack] = Field(default_factory=list)
    tamper_sweep: list[TamperStrength] = Field(
        default_factory=list, description="each attack strength's mean and spread over seeds"
    )
    tamper_monotone: bool | None = Field(
        default=None,
        description="whether the mean refusal rate never rises with attack strength (false: "
        "the sweep is noisy evidence); null when no sweep ran",
    )


class FailedEvaluation(_Strict):
    evaluation: str
    reason: str


class Coverage(_Strict):
    """Which evaluations ran and which failed, so missing evidence is visible, never invented."""

    ran: list[str] = Field(default_factory=list)
    failed: list[FailedEvaluation] = Field(default_factory=list)


class SamplingRecord(_Strict):
    """How the samples were drawn, so the same seed can reproduce the same evidence."""

    seed: int = Field(description="the sampling, generation, fine-tuning and bootstrap seed")
    method: str = Field(
        description="how `limit` samples were chosen, e.g. 'stratified-round-robin/v1': seeded, "
        "balanced over each dataset's categories"
    )
    limit: int | None = Field(default=None, description="samples per task (null: every sample)")
    capability_limit: int | None = Field(default=None, description="samples per capability task")
    datasets: dict[str, Sha256 | None] = Field(
        default_factory=dict, description="dataset name -> SHA-256 of every dataset sampled"
    )
    rounds: list[int] = Field(
        default_factory=list,
        description="--until-decidable: the samples per task of each round (the last is `limit`)",
    )
    max_samples: int | None = Field(default=None, description="--until-decidable: the cap")
    policy: str | None = Field(
        default=None, description="--until-decidable: the policy whose cutoffs decided"
    )
    undecided: dict[str, int | None] = Field(
        default_factory=dict,
        description="--until-decidable: 'domain/indicator/condition' still straddling a cutoff "
        "after the last round -> the samples it would need at the observed value (null: none)",
    )


class RiskReport(_Strict):
    """The output of `releasegate assess` and the input of `releasegate decide`."""

    schema_version: Literal["1"] = SCHEMA_VERSION
    model: ModelIdentity
    created_at: datetime | None = None
    tool_versions: dict[str, str] = Field(
        default_factory=dict, description="versions of releasegate, inspect_ai, transformers, torch"
    )
    baselines: list[ModelIdentity] = Field(default_factory=list)
    evidence: list[EvidenceItem] = Field(default_factory=list)
    safeguards: SafeguardMetrics = Field(default_factory=SafeguardMetrics)
    coverage: Coverage = Field(default_factory=Coverage)
    sampling: SamplingRecord | None = Field(
        default=None, description="seed, method and dataset hashes (null in older reports)"
    )
    notes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> RiskReport:
        seen: set[str] = set()
        for item in self.evidence:
            if item.id in seen:
                raise ValueError(f"evidence id {item.id!r} appears more than once")
            seen.add(item.id)
        return self

    def items(self, metric: str, condition: Condition | None = None) -> list[EvidenceItem]:
        """Evidence items for one metric, optionally under one condition."""
        return [
            e
            for e in self.evidence
            if e.metric == metric and (condition is None or e.condition == condition)
        ]
