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
from datetime import UTC, datetime
from typing import Any

from releasegate.assess._job import (
    _Assessment,
    _jailbreak_by_transform,
    _through_backend,
    _with_baseline,
    probe,
)
from releasegate.assess._modelapi import lend_backend
from releasegate.assess._options import (
    AssessOptions,
    Progress,
    _check_options,
)
from releasegate.assess._report import (
    evidence_from_run,
    local_model_dir,
    model_identity,
    tool_versions,
)
from releasegate.assess._runner import TaskRun
from releasegate.assess._tamper import run_sweep
from releasegate.backends import ModelBackend
from releasegate.evidence import (
    Coverage,
    EvidenceItem,
    FailedEvaluation,
    ModelIdentity,
    RiskReport,
    SafeguardMetrics,
    SamplingRecord,
)
from releasegate.judge import JudgeError
from releasegate.settings import Settings
from releasegate.vocab import Condition


def assess(opts: AssessOptions, settings: Settings, progress: Progress | None = None) -> RiskReport:
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
    opts: AssessOptions, settings: Settings, progress: Progress | None = None
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
        sampling=_sampling_record(opts, job.evidence, job.datasets),
        notes=job.notes,
    )


def _sampling_record(
    opts: AssessOptions, evidence: list[EvidenceItem], extra: dict[str, str | None]
) -> SamplingRecord:
    from releasegate.assess._sampling import SAMPLING_METHOD

    datasets = dict(extra)
    datasets.update(
        (item.dataset.name, item.dataset.sha256) for item in evidence if item.dataset is not None
    )
    return SamplingRecord(
        seed=opts.seed,
        method=SAMPLING_METHOD,
        limit=opts.limit,
        capability_limit=opts.capability_limit or opts.limit,
        datasets=dict(sorted(datasets.items())),
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
                asr = {name: sum(s for _, s in v) / len(v) for name, v in by.items() if v}
                worst = max(sorted(asr), key=lambda k: asr[k])
                job.add(
                    evidence_from_run(
                        run,
                        id="jailbreak_asr/post_mitigation",
                        metric="jailbreak_asr",
                        condition=Condition.POST_MITIGATION,
                        judge=job.judge_label,
                        scores=[s for _, s in by[worst]],
                        sample_ids=[i for i, _ in by[worst]],
                        # The worst of the transforms: a maximum, so a Bonferroni interval.
                        worst_of=[[s for _, s in by[name]] for name in sorted(by)],
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

    directory = local_model_dir(backend)
    if directory is None:
        job.failed.append(
            FailedEvaluation(
                evaluation="tamper_sweep",
                reason="the tamper sweep fine-tunes local weights; this model is remote",
            )
        )
        return
    # The sweep trains and evaluates copies of the weights it loads itself, and the subject's
    # own tasks are done: its model is freed first, one model less in memory while fine-tuning.
    await backend.aclose()
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


__all__ = ["assess", "assess_async"]
