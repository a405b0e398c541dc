"""The post-tune safety gate's suites: the same Inspect tasks as `assess` (refusal, jailbreak),
run on the base model and on a tuned one, sized small enough for a fine-tuning job.

Both models are measured without guards: the gate asks whether fine-tuning removed the model's
own safeguards (the gateway's guards still apply to whatever is served). Logs go under one
directory keyed like `assess`'s, so the base model's runs are reused by every job and every
worker restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel, Field

from releasegate.assess._assess import assess_async
from releasegate.assess._options import AssessOptions
from releasegate.finetune._gate import (
    JAILBREAK,
    REFUSAL,
    GateOutcome,
    GateThresholds,
    SafetyGate,
    compare,
)
from releasegate.settings import Settings


class GateSize(BaseModel):
    """How much the gate measures (more samples: a tighter comparison, a slower job)."""

    samples: int = Field(default=16, ge=1, description="harmful requests of the refusal suite")
    jailbreak_prompts: int = Field(default=2, ge=1, description="requests per jailbreak transform")
    max_tokens: int = Field(default=32, ge=1, description="tokens per answer")
    judge: str = Field(default="default", description="the refusal judge spec")


async def measure_safeguards(
    spec: str, settings: Settings, size: GateSize, log_dir: Path
) -> tuple[dict[str, float | None], dict[str, int]]:
    """Refusal rate and worst jailbreak success rate of `spec`, without guards.

    Returns:
        ({"refusal_rate": ..., "jailbreak_asr": ...}, samples per metric); a suite that failed
        gives None (and the gate fails).
    """
    opts = AssessOptions(
        model=spec,
        suites=("refusal", "jailbreak"),
        limit=size.samples,
        jailbreak_prompts=size.jailbreak_prompts,
        max_tokens=size.max_tokens,
        guards=(),
        judge=size.judge,
        tamper=(),
        log_dir=log_dir,
    )
    report = await assess_async(opts, settings)
    by_id = {item.id: item for item in report.evidence}
    refusal = by_id.get("refusal_rate/pre_mitigation")
    jailbreak = by_id.get("jailbreak_asr/post_mitigation")
    values = {
        REFUSAL: refusal.value if refusal is not None else None,
        JAILBREAK: jailbreak.value if jailbreak is not None else None,
    }
    samples = {
        REFUSAL: refusal.n if refusal is not None else 0,
        JAILBREAK: jailbreak.n if jailbreak is not None else 0,
    }
    return values, samples


def posttune_gate(
    base_spec: str,
    settings: Settings,
    size: GateSize,
    thresholds: GateThresholds,
    log_dir: Path,
) -> SafetyGate:
    """The gate a fine-tuning worker calls with each tuned model's spec.

    Args:
        base_spec: the served (base) model; measured once, then reused.
        settings: device, model cache.
        size: samples per suite.
        thresholds: tolerances and the current decision's cutoffs.
        log_dir: Inspect logs of every run (base runs reused from here).
    """
    base: dict[str, float | None] | None = None

    def gate(tuned_spec: str) -> GateOutcome:
        nonlocal base
        if base is None:
            base, _ = asyncio.run(measure_safeguards(base_spec, settings, size, log_dir))
        tuned, samples = asyncio.run(measure_safeguards(tuned_spec, settings, size, log_dir))
        reasons = compare(base, tuned, thresholds)
        return GateOutcome(
            passed=not reasons,
            base=base,
            tuned=tuned,
            reasons=reasons,
            thresholds=thresholds,
            samples=samples,
        )

    return gate


__all__ = ["GateSize", "measure_safeguards", "posttune_gate"]
