"""`assess --until-decidable`: grow the sample until every indicator is decided, or a cap.

An indicator is *undecided* when its interval straddles one of the policy's cutoffs (the
decision then reads it at the worse bound: precaution). Each round assesses with a larger
`--limit` — the seeded sample of `_sampling` is nested, so a round only adds samples — until no
indicator of the policy is undecided, the cap `max_samples` is reached, or the datasets have no
more rows. Whatever is still undecided is recorded in the report (`sampling.undecided`, with the
samples each would need) and the decision reads it at its worse bound.

The intervals of the last round are not widened for the earlier looks (optional stopping): a
few doublings are few looks, and stopping early can only happen when every interval already
clears its cutoffs; docs/design/0017-honest-intervals.md says what that costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from releasegate.assess._assess import assess_async
from releasegate.assess._options import AssessOptions, Progress
from releasegate.evidence import RiskReport

if TYPE_CHECKING:
    from releasegate.policy import ReleasePolicy
    from releasegate.settings import Settings

FIRST_ROUND = 20
"""The first round's samples per task when `--limit` is not given."""


def undecided_indicators(report: RiskReport, policy: ReleasePolicy) -> dict[str, int | None]:
    """Indicators whose interval straddles a cutoff of `policy`, and the samples each would need.

    Returns:
        'domain/indicator/condition' -> samples needed at the observed value (None: no sample
        size decides it).
    """
    from releasegate.policy import decide

    decision = decide(report, policy)
    return {
        f"{d.domain}/{r.indicator}/{r.condition.value}": r.samples_needed
        for d in decision.domains
        for r in d.readings
        if r.status == "undecided"
    }


async def assess_until_decidable(
    opts: AssessOptions,
    settings: Settings,
    policy: ReleasePolicy,
    *,
    max_samples: int,
    progress: Progress | None = None,
) -> RiskReport:
    """Assess with a growing sample until `policy` can decide every indicator, or the cap.

    Args:
        opts: the assessment; its `limit` is the first round's (default `FIRST_ROUND`, at most
            `max_samples`). A set `capability_limit` or `jailbreak_prompts` stays fixed.
        settings: releasegate settings.
        policy: the policy whose cutoffs decide.
        max_samples: the most samples per task.
        progress: called as each task starts and ends.

    Returns:
        The last round's report; `sampling` records the rounds, the cap, the policy and what is
        still undecided.
    """
    limit = min(opts.limit or FIRST_ROUND, max_samples)
    rounds: list[int] = []
    while True:
        report = await assess_async(opts.model_copy(update={"limit": limit}), settings, progress)
        rounds.append(limit)
        pending = undecided_indicators(report, policy)
        # Every item scored fewer samples than asked: its data (or its fixed limit) has no
        # more rows, so a larger limit would add none.
        exhausted = bool(report.evidence) and all(e.n < limit for e in report.evidence)
        if not pending or limit >= max_samples or exhausted:
            break
        wanted = max((n for n in pending.values() if n is not None), default=max_samples)
        limit = min(max_samples, max(2 * limit, wanted))
    notes = list(report.notes)
    if pending:
        why = (
            "the datasets have no more rows"
            if exhausted
            else f"the cap --max-samples {max_samples} was reached"
        )
        notes.append(
            f"Undecided after {len(rounds)} round(s) ({why}): "
            + ", ".join(
                f"{k} (needs {'no finite number of' if n is None else f'about {n}'} samples)"
                for k, n in sorted(pending.items())
            )
            + "; the decision reads them at the worse bound of their intervals."
        )
    else:
        notes.append(
            f"Every indicator of policy {policy.name} {policy.version} is decided after "
            f"{len(rounds)} round(s) ({', '.join(map(str, rounds))} samples per task)."
        )
    sampling = report.sampling
    assert sampling is not None
    record = sampling.model_copy(
        update={
            "rounds": rounds,
            "max_samples": max_samples,
            "policy": f"{policy.name} {policy.version}",
            "undecided": dict(sorted(pending.items())),
        }
    )
    return report.model_copy(update={"sampling": record, "notes": notes})


__all__ = ["FIRST_ROUND", "assess_until_decidable", "undecided_indicators"]
