"""One assessment while it runs (`_Assessment`): the model and its evidence so far, and how a
suite's task is run and turned into evidence. `_assess` drives it; the tamper sweep adds to it."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from pathlib import Path
from typing import Any

from releasegate.assess._modelapi import PROVIDER
from releasegate.assess._options import CAPABILITY_DOMAINS, PROMPT_SETS, AssessOptions, Progress
from releasegate.assess._report import (
    evidence_from_run,
)
from releasegate.assess._runner import SuiteFailed, TaskRun, run_key, run_task
from releasegate.assess._sampling import SAMPLING_METHOD, stratified_sample_ids
from releasegate.assess._stats import bootstrap_uplift_ci
from releasegate.backends import BackendError, ChatMessage, GenerationParams, ModelBackend
from releasegate.errors import InputError, Problem
from releasegate.evidence import (
    BaselineComparison,
    ConfidenceInterval,
    EvidenceItem,
    FailedEvaluation,
    JudgeAgreement,
)
from releasegate.judge import RefusalJudge
from releasegate.settings import Settings
from releasegate.vocab import Condition


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
    key = settings.through_api_key
    through_settings = (
        settings.model_copy(update={"upstream_api_key": key}) if key is not None else settings
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
        self.datasets: dict[str, str | None] = {}  # datasets read besides the evidence's own
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
            samples: str | None = None
            if limit is not None:
                # A seeded sample balanced over the categories, never the first `limit` rows.
                ids = stratified_sample_ids(list(task.dataset), limit, self.opts.seed)
                chosen = set(ids)
                task.dataset = task.dataset.filter(lambda sample: str(sample.id) in chosen)
                # Keyed by the samples themselves: a larger limit that picks no new row (the
                # dataset is exhausted) reuses the log.
                samples = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
            key = run_key(
                model=spec,
                fingerprint=fingerprint,
                task=task_name,
                args=task_args,
                data=(task.metadata or {}).get("dataset_sha256"),
                samples=samples,
                sampling=SAMPLING_METHOD if limit is not None else None,
                seed=self.opts.seed,
            )
            model = get_model(f"{PROVIDER}/{spec}", memoize=False)
            run = await run_task(
                task,
                f"releasegate/{task_name}",
                model=model,
                key=key,
                log_root=self.log_root,
                limit=None,  # the sample is already chosen
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
                "seed": self.opts.seed,
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


def _jailbreak_by_transform(run: TaskRun) -> dict[str, list[tuple[str, float]]]:
    """Each transform's (sample id, score) pairs."""
    by: dict[str, list[tuple[str, float]]] = {}
    for sid, meta, score in zip(run.sample_ids, run.sample_metadata, run.scores, strict=True):
        by.setdefault(str(meta.get("transform")), []).append((sid, score))
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


__all__ = ["probe"]
