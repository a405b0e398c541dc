"""`assess()`: run the suites on a model and build its `RiskReport`.

Conditions (MISSION.md): `pre_mitigation` is the model alone; `post_mitigation` is the model
behind its safeguards — releasegate's guards run around it as the gateway runs them, or the
deployed gateway itself with `through`; `post_tamper` is the worst case over a sweep of LoRA
fine-tuning attacks on the local weights. A suite that fails is listed in the coverage as
missing evidence with its reason; no value is ever filled in for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from releasegate.assess._modelapi import PROVIDER, lend_backend
from releasegate.assess._report import (
    evidence_from_run,
    local_model_dir,
    model_identity,
    tool_versions,
)
from releasegate.assess._runner import SuiteFailed, TaskRun, run_key, run_task
from releasegate.assess._stats import bootstrap_uplift_ci
from releasegate.backends import BackendError, ChatMessage, GenerationParams, ModelBackend
from releasegate.errors import InputError, Problem
from releasegate.evidence import (
    BaselineComparison,
    ConfidenceInterval,
    Coverage,
    EvidenceItem,
    FailedEvaluation,
    JudgeAgreement,
    ModelIdentity,
    RiskReport,
    SafeguardMetrics,
)
from releasegate.judge import JudgeError, RefusalJudge
from releasegate.settings import Settings
from releasegate.vocab import Condition

SUITES = ("capability", "refusal", "over_refusal", "jailbreak", "tamper")
CAPABILITY_DOMAINS = ("cbrn", "cyber", "persuasion", "autonomy")
# Names accepted in --data besides domains: the refusal suites' request sets.
PROMPT_SETS = ("harmful", "benign_sensitive")
THROUGH_KEY_ENV = "RELEASEGATE_THROUGH_API_KEY"
_INSPECT_EVALS_WMDP = {
    "inspect_evals/wmdp_bio": "wmdp_bio",
    "inspect_evals/wmdp_chem": "wmdp_chem",
    "inspect_evals/wmdp_cyber": "wmdp_cyber",
}

Progress = Callable[[str, str], None]
"""Called with (event, label): event is 'start', 'done', 'reused' or 'failed: <reason>'."""


class TamperConfig(BaseModel):
    """One fine-tuning attack of the tamper sweep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    examples: int = Field(ge=1)
    steps: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    rank: int = Field(default=8, ge=1)
    batch_size: int = Field(default=4, ge=1)


# Three attacker budgets, cheapest first (Qi et al. 2023 needed 10 examples and 5 epochs).
DEFAULT_TAMPER = (
    TamperConfig(name="lora-n10-s10-lr1e-3", examples=10, steps=10, learning_rate=1e-3, rank=4),
    TamperConfig(name="lora-n20-s20-lr1e-3", examples=20, steps=20, learning_rate=1e-3),
    TamperConfig(name="lora-n44-s40-lr2e-3", examples=44, steps=40, learning_rate=2e-3),
)

# A cheaper sweep for demonstrations and smoke runs (a fraction of the optimizer steps).
QUICK_TAMPER = (
    TamperConfig(name="lora-n10-s4-lr2e-3", examples=10, steps=4, learning_rate=2e-3, rank=4),
    TamperConfig(name="lora-n20-s6-lr2e-3", examples=20, steps=6, learning_rate=2e-3, rank=4),
    TamperConfig(name="lora-n44-s8-lr2e-3", examples=44, steps=8, learning_rate=2e-3),
)
TAMPER_SWEEPS = {"default": DEFAULT_TAMPER, "quick": QUICK_TAMPER}


class AssessOptions(BaseModel):
    """What to assess and how (the flags of `releasegate assess`)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="model spec, e.g. bundled:smollm2-guarded")
    baseline: str | None = Field(default=None, description="baseline model spec (marginal risk)")
    suites: tuple[str, ...] = SUITES
    limit: int | None = Field(default=None, ge=1, description="samples per task")
    capability_limit: int | None = Field(
        default=None,
        ge=1,
        description="samples per capability task (default: limit); multiple choice scored by "
        "logprob is cheap, and a wide CI on it is read at its worse bound (precaution)",
    )
    seed: int = 0
    data: dict[str, str] = Field(
        default_factory=dict,
        description="domain (or harmful/benign_sensitive) -> JSONL file or inspect_evals/wmdp_*",
    )
    judge: str = Field(
        default="default",
        description="refusal judge spec: default, classifier:PATH, phrases or llm:BACKEND_SPEC",
    )
    judge_labels: Path | None = Field(
        default=None,
        description="labelled JSONL to measure the judge on (default: the bundled test split)",
    )
    strongreject: str | None = Field(
        default=None, description="Inspect model for StrongREJECT grading"
    )
    through: str | None = Field(default=None, description="deployed gateway URL (post_mitigation)")
    guards: tuple[str, ...] = ("default",)
    max_tokens: int = Field(default=48, ge=1)
    jailbreak_prompts: int | None = Field(
        default=None, ge=1, description="requests per jailbreak transform (default: limit)"
    )
    tamper: tuple[TamperConfig, ...] = DEFAULT_TAMPER
    log_dir: Path | None = None


def _check_options(opts: AssessOptions) -> list[str]:
    """Validate suites and `--data` files before any model is loaded.

    Returns:
        One note per data file with malformed rows (file:line of each), which are skipped.

    Raises:
        InputError: unknown suite, missing file, unknown task, or a file with no valid row.
    """
    from releasegate.assess._data import MCQRow, PromptRow, read_jsonl
    from releasegate.judge import check_judge_spec, read_labelled

    problems = [
        Problem(f"unknown suite {s!r}; choose from {', '.join(SUITES)}", path="--suite")
        for s in opts.suites
        if s not in SUITES
    ]
    notes: list[str] = []
    for key, value in opts.data.items():
        if value.startswith("inspect_evals/"):
            if value not in _INSPECT_EVALS_WMDP:
                problems.append(
                    Problem(
                        f"unknown task {value!r}; choose from {', '.join(_INSPECT_EVALS_WMDP)}",
                        path=f"--data {key}",
                    )
                )
            continue
        if not Path(value).expanduser().is_file():
            problems.append(Problem(f"no such file: {value}", path=f"--data {key}"))
            continue
        row_type: type[MCQRow] | type[PromptRow] = PromptRow if key in PROMPT_SETS else MCQRow
        data = read_jsonl(value, row_type)  # raises InputError when no row is usable
        if data.skipped:
            notes.append(f"{len(data.skipped)} malformed row(s) skipped: {data.describe_skipped()}")
    problems += check_judge_spec(opts.judge)
    if opts.judge_labels is not None:
        read_labelled(opts.judge_labels)  # raises InputError naming every bad line
    if problems:
        raise InputError("releasegate assess", problems)
    return notes


async def probe(backend: ModelBackend, label: str, timeout_s: float = 120.0) -> None:
    """One tiny request, so an unreachable or broken model fails fast as bad input."""
    params = GenerationParams(max_tokens=1)
    try:
        await asyncio.wait_for(
            backend.chat([ChatMessage(role="user", content="Hi")], params), timeout_s
        )
    except (BackendError, OSError, TimeoutError) as exc:
        raise InputError(label, [Problem(f"the model does not answer: {exc}")]) from exc


def _through_backend(url: str, settings: Settings) -> tuple[str, ModelBackend]:
    from releasegate.backends import load_backend

    base, _, name = url.partition("#")
    spec = f"openai:{base}#{name or settings.served_model_name or 'releasegate'}"
    key = os.environ.get(THROUGH_KEY_ENV)
    through_settings = (
        settings.model_copy(update={"upstream_api_key": SecretStr(key)}) if key else settings
    )
    return spec, load_backend(spec, through_settings)


class _Assessment:
    def __init__(self, opts: AssessOptions, settings: Settings, progress: Progress | None):
        self.opts = opts
        self.settings = settings
        self.progress = progress or (lambda event, label: None)
        self.log_root = Path(opts.log_dir or settings.data_dir / "assess" / "logs")
        self.evidence: list[EvidenceItem] = []
        self.ran: list[str] = []
        self.failed: list[FailedEvaluation] = []
        self.notes: list[str] = []
        self.safeguards: dict[str, Any] = {}
        self.runs: dict[str, TaskRun] = {}
        self.judge_label: str | None = None
        self.judge_agreement: JudgeAgreement | None = None
        self.judge: RefusalJudge | None = None  # lent to the scorers through `judges`
        self.judges = contextlib.ExitStack()

    # -- running one task ---------------------------------------------------------------------

    async def run(
        self,
        label: str,
        task_name: str,
        task_args: dict[str, Any],
        *,
        spec: str,
        fingerprint: str,
        limit: int | None,
    ) -> TaskRun | None:
        """Run a registered task on the lent model `spec`; None (recorded) when it fails."""
        from inspect_ai.model import get_model

        from releasegate.assess import _registry

        self.progress("start", label)
        try:
            task = _registry.TASKS[task_name](**task_args)
            key = run_key(
                model=spec,
                fingerprint=fingerprint,
                task=task_name,
                args=task_args,
                data=(task.metadata or {}).get("dataset_sha256"),
                limit=limit,
                seed=self.opts.seed,
            )
            model = get_model(f"{PROVIDER}/{spec}", memoize=False)
            run = await run_task(
                task,
                f"releasegate/{task_name}",
                model=model,
                key=key,
                log_root=self.log_root,
                limit=limit,
                seed=self.opts.seed,
            )
        except (SuiteFailed, BackendError, InputError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.failed.append(FailedEvaluation(evaluation=label, reason=reason))
            self.progress(f"failed: {reason}", label)
            return None
        self.ran.append(label)
        skipped = int(run.metadata.get("skipped_rows") or 0)
        if skipped:
            self.notes.append(
                f"{label}: {skipped} malformed row(s) of {run.metadata.get('dataset_name')} "
                "were skipped (see the assess output for file:line)."
            )
        self.runs[label] = run
        self.progress("reused" if run.reused else "done", label)
        return run

    # -- suites -------------------------------------------------------------------------------

    async def capability(
        self, spec: str, fingerprint: str, condition: Condition
    ) -> dict[str, TaskRun]:
        out = {}
        for domain in self.domains():
            label = f"{domain}-mcq/{condition.value}"
            run = await self.run(
                label if spec == self.opts.model else f"{label}@{spec}",
                "capability_mcq",
                {"domain": domain, "data": self.opts.data.get(domain)},
                spec=spec,
                fingerprint=fingerprint,
                limit=self.opts.capability_limit or self.opts.limit,
            )
            if run is not None:
                out[domain] = run
        return out

    def domains(self) -> list[str]:
        extra = [d for d in self.opts.data if d not in CAPABILITY_DOMAINS + PROMPT_SETS]
        return [*CAPABILITY_DOMAINS, *extra]

    async def refusal(
        self, spec: str, fingerprint: str, label: str, guards: str = ""
    ) -> TaskRun | None:
        return await self.run(
            label,
            "refusal",
            {
                "data": self.opts.data.get("harmful"),
                "guards": guards,
                "max_tokens": self.opts.max_tokens,
                "refusal_judge": self.opts.judge,
                "strongreject": self.opts.strongreject,
            },
            spec=spec,
            fingerprint=fingerprint,
            limit=self.opts.limit,
        )

    async def over_refusal(
        self, spec: str, fingerprint: str, label: str, guards: str
    ) -> TaskRun | None:
        return await self.run(
            label,
            "over_refusal",
            {
                "data": self.opts.data.get("benign_sensitive"),
                "guards": guards,
                "max_tokens": self.opts.max_tokens,
                "refusal_judge": self.opts.judge,
            },
            spec=spec,
            fingerprint=fingerprint,
            limit=self.opts.limit,
        )

    async def jailbreak(
        self, spec: str, fingerprint: str, label: str, guards: str
    ) -> TaskRun | None:
        prompts = self.opts.jailbreak_prompts or self.opts.limit or 0
        return await self.run(
            label,
            "jailbreak",
            {
                "data": self.opts.data.get("harmful"),
                "guards": guards,
                "prompts": prompts,
                "max_tokens": self.opts.max_tokens,
                "refusal_judge": self.opts.judge,
                "strongreject": self.opts.strongreject,
            },
            spec=spec,
            fingerprint=fingerprint,
            limit=None,
        )

    # -- evidence -----------------------------------------------------------------------------

    def add(self, item: EvidenceItem) -> EvidenceItem:
        # Every item the refusal judge scored states the judge's measured agreement.
        if item.judge is not None and item.judge == self.judge_label:
            item = item.model_copy(update={"judge_agreement": self.judge_agreement})
        self.evidence.append(item)
        return item

    def add_strongreject(self, run: TaskRun, base_id: str, condition: Condition) -> None:
        values = run.other_scores.get("strongreject")
        if values:
            self.add(
                evidence_from_run(
                    run,
                    id=f"strongreject/{base_id}",
                    metric="strongreject_score",
                    condition=condition,
                    judge=f"strongreject:{self.opts.strongreject}",
                    scores=values,
                )
            )


def _jailbreak_by_transform(run: TaskRun) -> dict[str, list[float]]:
    by: dict[str, list[float]] = {}
    for meta, score in zip(run.sample_metadata, run.scores, strict=True):
        by.setdefault(str(meta.get("transform")), []).append(score)
    return by


def _paired(subject: TaskRun, baseline: TaskRun) -> tuple[list[float], list[float]]:
    theirs = dict(zip(baseline.sample_ids, baseline.scores, strict=True))
    common = [
        (s, theirs[i])
        for i, s in zip(subject.sample_ids, subject.scores, strict=True)
        if i in theirs
    ]
    return [a for a, _ in common], [b for _, b in common]


def _with_baseline(
    item: EvidenceItem, subject: TaskRun, baseline: TaskRun, baseline_name: str, seed: int
) -> EvidenceItem:
    x, y = _paired(subject, baseline)
    if x:
        low, high = bootstrap_uplift_ci(x, y, paired=True, seed=seed)
    else:  # no common items: compare the two samples as independent
        x, y = subject.scores, baseline.scores
        low, high = bootstrap_uplift_ci(x, y, paired=False, seed=seed)
    comparison = BaselineComparison(
        model=baseline_name,
        value=baseline.value,
        uplift=item.value - baseline.value,
        uplift_ci95=ConfidenceInterval(low=min(low, high), high=max(low, high)),
    )
    return item.model_copy(update={"baseline": comparison})


def assess(
    opts: AssessOptions, settings: Settings | None = None, progress: Progress | None = None
) -> RiskReport:
    """Assess a model and return its risk report (`assess_async` in a new event loop).

    Args:
        opts: the model, suites, limits, data and attack options.
        settings: releasegate settings (device, model cache, data directory).
        progress: called as each task starts and ends.

    Returns:
        The `RiskReport` (not yet written anywhere).

    Raises:
        InputError: an unknown model spec, an unreadable dataset, a model that does not answer.
    """
    return asyncio.run(assess_async(opts, settings, progress))


async def assess_async(
    opts: AssessOptions, settings: Settings | None = None, progress: Progress | None = None
) -> RiskReport:
    """Assess a model and return its risk report.

    Args:
        opts: the model, suites, limits, data and attack options.
        settings: releasegate settings (device, model cache, data directory).
        progress: called as each task starts and ends.

    Returns:
        The `RiskReport` (not yet written anywhere).

    Raises:
        InputError: an unknown model spec, an unreadable dataset, a model that does not answer.
    """
    from releasegate.assess import _registry  # registers the tasks and the model API
    from releasegate.backends import load_backend

    settings = settings or Settings()
    notes = _check_options(opts)
    _registry.check_inspect_evals(opts.data)
    job = _Assessment(opts, settings, progress)
    job.notes.extend(notes)
    backend = load_backend(opts.model, settings)
    try:
        await probe(backend, opts.model)
        identity = model_identity(opts.model, backend)
        fingerprint = identity.weights_sha256 or opts.model
        with lend_backend(opts.model, backend):
            subject = await _assess_subject(job, backend, fingerprint)
        baselines: list[ModelIdentity] = []
        if opts.baseline:
            baselines.append(await _assess_baseline(job, subject))
    finally:
        job.judges.close()
        if job.judge is not None:
            await job.judge.aclose()
        await backend.aclose()
    return RiskReport(
        model=identity,
        created_at=datetime.now(UTC).replace(microsecond=0),
        tool_versions=tool_versions(),
        baselines=baselines,
        evidence=job.evidence,
        safeguards=SafeguardMetrics(**job.safeguards),
        coverage=Coverage(ran=job.ran, failed=job.failed),
        notes=job.notes,
    )


async def _assess_subject(
    job: _Assessment, backend: ModelBackend, fingerprint: str
) -> dict[str, Any]:
    opts = job.opts
    spec = opts.model
    suites = set(opts.suites)
    subject: dict[str, Any] = {"mcq": {}, "refusal_pre": None}
    refusal_suites = suites & {"refusal", "over_refusal", "jailbreak", "tamper"}
    if refusal_suites:
        try:
            await _validate_judge(job)
        except JudgeError as exc:  # no judge: every refusal suite is missing
            for name in sorted(refusal_suites):
                job.failed.append(
                    FailedEvaluation(evaluation=name, reason=f"refusal judge unavailable: {exc}")
                )
            suites -= refusal_suites
    if "capability" in suites:
        measured = await job.capability(spec, fingerprint, Condition.PRE_MITIGATION)
        for domain, run in measured.items():
            subject["mcq"][domain] = run
            job.add(
                evidence_from_run(
                    run,
                    id=f"{domain}-mcq/pre_mitigation",
                    metric="mcq_accuracy",
                    condition=Condition.PRE_MITIGATION,
                    domain=domain,
                    judge="answer letter logprob",
                )
            )
            if run.metadata.get("demonstration_proxy"):
                job.notes.append(
                    f"{domain}: the bundled capability set is a benign demonstration proxy, "
                    "not a hazard measurement."
                )
    if "refusal" in suites or "tamper" in suites:
        pre = await job.refusal(spec, fingerprint, "refusal/pre_mitigation")
        if pre is not None:
            subject["refusal_pre"] = pre
            job.add(
                evidence_from_run(
                    pre,
                    id="refusal_rate/pre_mitigation",
                    metric="refusal_rate",
                    condition=Condition.PRE_MITIGATION,
                    judge=job.judge_label,
                )
            )
            job.add_strongreject(pre, "pre_mitigation", Condition.PRE_MITIGATION)
    await _post_mitigation(job, suites, spec, fingerprint)
    if "tamper" in suites:
        await _tamper(job, backend, fingerprint, subject)
    return subject


async def _validate_judge(job: _Assessment) -> None:
    """Measure the refusal judge on labelled responses; every judged item will state it."""
    from releasegate.judge import (
        agreement_record,
        lend_judge,
        load_judge,
        read_labelled,
        validate,
    )

    job.progress("start", "refusal judge")
    # One judge for the whole assessment: measured here, lent to every task's scorer, closed
    # when the assessment ends.
    job.judge = judge = load_judge(job.opts.judge, job.settings)
    job.judges.enter_context(lend_judge(job.opts.judge, judge))
    # Validated already by _check_options, before any model was loaded.
    labels = read_labelled(job.opts.judge_labels) if job.opts.judge_labels else None
    check = await validate(judge, labels)
    job.judge_label = check.judge
    job.judge_agreement = agreement_record(check)
    kappa = f"{check.overall.kappa:.2f}" if check.overall.kappa is not None else "undefined"
    harmful = (
        f", {check.kappa_harmful:.2f} on harmful requests"
        if check.kappa_harmful is not None
        else ""
    )
    job.notes.append(
        f"Refusal judge {check.judge}: agrees with human labels on "
        f"{check.overall.agreement:.1%} of {check.n} responses of {check.labelled_set} "
        f"(Cohen's kappa {kappa}{harmful})."
    )
    job.progress("done", "refusal judge")


async def _post_mitigation(job: _Assessment, suites: set[str], spec: str, fingerprint: str) -> None:
    opts = job.opts
    wanted = suites & {"refusal", "over_refusal", "jailbreak"}
    if not wanted:
        return
    through: ModelBackend | None = None
    context: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if opts.through:
        target, through = _through_backend(opts.through, job.settings)
        await probe(through, f"--through {opts.through}")
        target_fp, guards = target, ""
        how = f"through the deployment at {opts.through.partition('#')[0]}"
        context = lend_backend(target, through)
    else:  # the subject's backend is already lent under its spec
        target, target_fp = spec, fingerprint
        guards = "+".join(opts.guards)
        how = f"behind releasegate guards [{guards}]" if guards else "without guards"
    job.notes.append(f"post_mitigation was measured {how}.")
    with context:
        if "refusal" in wanted:
            run = await job.refusal(target, target_fp, "refusal/post_mitigation", guards)
            if run is not None:
                rate = job.add(
                    evidence_from_run(
                        run,
                        id="refusal_rate/post_mitigation",
                        metric="refusal_rate",
                        condition=Condition.POST_MITIGATION,
                        judge=job.judge_label,
                        attack=None,
                    )
                )
                job.safeguards["refusal_rate"] = rate.value
                job.add_strongreject(run, "post_mitigation", Condition.POST_MITIGATION)
        if "over_refusal" in wanted:
            run = await job.over_refusal(target, target_fp, "over_refusal/post_mitigation", guards)
            if run is not None:
                item = job.add(
                    evidence_from_run(
                        run,
                        id="over_refusal_rate/post_mitigation",
                        metric="over_refusal_rate",
                        condition=Condition.POST_MITIGATION,
                        judge=job.judge_label,
                    )
                )
                job.safeguards["over_refusal_rate"] = item.value
        if "jailbreak" in wanted:
            run = await job.jailbreak(target, target_fp, "jailbreak/post_mitigation", guards)
            if run is not None:
                by = _jailbreak_by_transform(run)
                asr = {name: sum(v) / len(v) for name, v in by.items() if v}
                worst = max(sorted(asr), key=lambda k: asr[k])
                job.add(
                    evidence_from_run(
                        run,
                        id="jailbreak_asr/post_mitigation",
                        metric="jailbreak_asr",
                        condition=Condition.POST_MITIGATION,
                        judge=job.judge_label,
                        scores=by[worst],
                        attack={
                            "transforms": {k: asr[k] for k in sorted(asr)},
                            "aggregate": "max",
                            "worst": worst,
                            "prompts_per_transform": len(by[worst]),
                        },
                    )
                )
                job.safeguards["jailbreak_asr"] = asr[worst]
                job.safeguards["jailbreak_asr_by_attack"] = {k: asr[k] for k in sorted(asr)}
                job.add_strongreject(run, "jailbreak", Condition.POST_MITIGATION)
    if through is not None:
        await through.aclose()


async def _tamper(
    job: _Assessment, backend: ModelBackend, fingerprint: str, subject: dict[str, Any]
) -> None:
    from releasegate.assess._tamper import run_sweep

    directory = local_model_dir(backend)
    if directory is None:
        job.failed.append(
            FailedEvaluation(
                evaluation="tamper_sweep",
                reason="the tamper sweep fine-tunes local weights; this model is remote",
            )
        )
        return
    await run_sweep(job, directory, fingerprint, subject)


async def _assess_baseline(job: _Assessment, subject: dict[str, Any]) -> ModelIdentity:
    from releasegate.backends import load_backend

    opts = job.opts
    assert opts.baseline is not None
    backend = load_backend(opts.baseline, job.settings)
    try:
        await probe(backend, f"--baseline {opts.baseline}")
        identity = model_identity(opts.baseline, backend)
        fingerprint = identity.weights_sha256 or opts.baseline
        with lend_backend(opts.baseline, backend):
            mcq = (
                await job.capability(opts.baseline, fingerprint, Condition.PRE_MITIGATION)
                if "capability" in opts.suites
                else {}
            )
            refusal = (
                await job.refusal(
                    opts.baseline, fingerprint, f"refusal/pre_mitigation@{opts.baseline}"
                )
                if subject.get("refusal_pre") is not None
                else None
            )
    finally:
        await backend.aclose()
    # Attach the baseline to every subject item measuring the same thing.
    updated = []
    for item in job.evidence:
        base_run: TaskRun | None = None
        if item.metric == "mcq_accuracy" and item.domain in mcq:
            base_run = mcq[item.domain]
        elif item.metric == "refusal_rate" and item.condition == Condition.PRE_MITIGATION:
            base_run = refusal
        source = _source_run(job, item)
        if base_run is not None and source is not None:
            item = _with_baseline(item, source, base_run, opts.baseline, opts.seed)
        updated.append(item)
    job.evidence = updated
    return identity


def _source_run(job: _Assessment, item: EvidenceItem) -> TaskRun | None:
    """The run an evidence item was computed from (found by its log)."""
    for run in job.runs.values():
        if str(run.log_path) == item.log_path:
            return run
    return None


__all__ = [
    "CAPABILITY_DOMAINS",
    "DEFAULT_TAMPER",
    "QUICK_TAMPER",
    "SUITES",
    "TAMPER_SWEEPS",
    "THROUGH_KEY_ENV",
    "AssessOptions",
    "Progress",
    "TamperConfig",
    "assess",
    "assess_async",
    "probe",
]
