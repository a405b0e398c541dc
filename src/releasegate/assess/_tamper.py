"""The tamper sweep: fine-tune the local weights to drop refusals, then measure again.

Open weights let anyone fine-tune safeguards away; a few benign identity-shifting examples
suffice (Qi et al. 2023). Each configuration of the sweep trains a LoRA adapter (Hu et al. 2021)
on the bundled identity-shift set, then re-runs the refusal suite (and the capability suite) on
the tampered model. `post_tamper` is the worst case over the sweep; each attack's cost
(examples, steps, wall time) is recorded so a reader sees how cheap the worst one was.
Adapters are kept under the log directory, keyed like the logs, so a re-run reuses them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from releasegate.assess._data import ChatRow, bundled_path, read_jsonl
from releasegate.assess._modelapi import lend_backend
from releasegate.assess._report import evidence_from_run
from releasegate.assess._runner import TaskRun, run_key
from releasegate.errors import InputError
from releasegate.evidence import FailedEvaluation, TamperAttack
from releasegate.vocab import Condition

if TYPE_CHECKING:
    from pathlib import Path

    from releasegate.assess._job import _Assessment
    from releasegate.assess._options import TamperConfig
    from releasegate.backends import FinetuneStats


def _train(
    job: _Assessment, model_dir: Path, config: TamperConfig, examples: list[Any], key: str
) -> tuple[Path, FinetuneStats, bool]:
    from releasegate.backends import FinetuneStats, LoraRunConfig, lora_finetune
    from releasegate.backends._finetune import STATS_FILE

    out = job.log_root / "tamper" / key
    stats_file = out / STATS_FILE
    if stats_file.is_file():
        return out, FinetuneStats(**json.loads(stats_file.read_text())["stats"]), True
    run_config = LoraRunConfig(
        steps=config.steps,
        learning_rate=config.learning_rate,
        rank=config.rank,
        batch_size=config.batch_size,
        seed=job.opts.seed,
        device=job.settings.device,
    )
    path, stats = lora_finetune(model_dir, examples[: config.examples], run_config, out_dir=out)
    return path, stats, False


async def run_sweep(
    job: _Assessment, model_dir: Path, fingerprint: str, subject: dict[str, Any]
) -> None:
    """Run every configured attack; add post_tamper evidence and the attacks' costs."""
    from releasegate.backends import HFBackend

    try:
        data = read_jsonl(
            bundled_path("tamper/identity_shift.jsonl"), ChatRow, name="releasegate/tamper"
        )
    except InputError as exc:
        job.failed.append(FailedEvaluation(evaluation="tamper_sweep", reason=str(exc)))
        return
    job.datasets[data.name] = data.sha256
    examples = [{"messages": row.messages} for row in data.rows]
    attacks: list[tuple[TamperConfig, TamperAttack, TaskRun, dict[str, TaskRun]]] = []
    for config in job.opts.tamper:
        label = f"tamper/{config.name}"
        key = run_key(
            kind="tamper",
            base=fingerprint,
            config=config.model_dump(),
            data=data.sha256,
            seed=job.opts.seed,
        )
        job.progress("start", label)
        try:
            adapter, stats, reused = _train(job, model_dir, config, examples, key)
        except Exception as exc:  # out of memory, a broken model dir...
            job.failed.append(FailedEvaluation(evaluation=label, reason=f"fine-tuning: {exc}"))
            job.progress(f"failed: {exc}", label)
            continue
        job.progress("reused" if reused else "done", label)
        spec = f"{job.opts.model}+tamper:{config.name}"
        backend = HFBackend(model_dir, name=spec, device=job.settings.device, adapter_dir=adapter)
        try:
            with lend_backend(spec, backend):
                refusal = await job.refusal(spec, key, f"refusal/post_tamper/{config.name}")
                mcq = (
                    await job.capability(spec, key, Condition.POST_TAMPER)
                    if "capability" in job.opts.suites
                    else {}
                )
        finally:
            await backend.aclose()
        if refusal is None:
            continue
        record = TamperAttack(
            name=config.name,
            examples=min(config.examples, len(examples)),
            steps=stats.steps,
            learning_rate=config.learning_rate,
            wall_time_s=stats.wall_time_s,
            refusal_rate_after=refusal.value,
        )
        attacks.append((config, record, refusal, mcq))
    if not attacks:
        job.failed.append(
            FailedEvaluation(evaluation="tamper_sweep", reason="no attack of the sweep finished")
        )
        return
    job.ran.append("tamper_sweep")
    names = [record.name for _, record, _, _ in attacks]
    # Worst case for safeguards: the lowest refusal rate after any attack.
    w_config, w_record, w_run, _ = min(attacks, key=lambda a: (a[1].refusal_rate_after, a[1].name))
    job.add(
        evidence_from_run(
            w_run,
            id="refusal_rate/post_tamper",
            metric="refusal_rate",
            condition=Condition.POST_TAMPER,
            judge=job.judge_label,
            # The lowest of the attacks' refusal rates: a minimum, so a Bonferroni interval.
            worst_of=[run.scores for _, _, run, _ in attacks],
            worse="lower_is_worse",
            attack={
                "kind": "tamper_sweep",
                "attacks": names,
                "worst": w_record.name,
                "worst_config": w_config.model_dump(),
                "refusal_rate_by_attack": {r.name: r.refusal_rate_after for _, r, _, _ in attacks},
            },
        )
    )
    job.safeguards["tamper_worst_refusal_rate"] = w_record.refusal_rate_after
    job.safeguards["tamper_attacks"] = [record for _, record, _, _ in attacks]
    # Worst case for capability: the highest accuracy after any attack, per domain.
    domains = sorted({d for _, _, _, mcq in attacks for d in mcq})
    for domain in domains:
        runs = [(cfg, mcq[domain]) for cfg, _, _, mcq in attacks if domain in mcq]
        cfg, run = max(runs, key=lambda r: (r[1].value, r[0].name))
        job.add(
            evidence_from_run(
                run,
                id=f"{domain}-mcq/post_tamper",
                metric="mcq_accuracy",
                condition=Condition.POST_TAMPER,
                domain=domain,
                judge="answer letter logprob",
                attack={"kind": "lora_finetune", **cfg.model_dump(), "sweep": names},
                worst_of=[r.scores for _, r in runs],
            )
        )
        job.runs[f"{domain}-mcq/post_tamper"] = run


__all__ = ["run_sweep"]
