"""Check a judge against labelled rows, and the summary of it that reports carry."""

from __future__ import annotations

import time
from typing import Any

from releasegate.evidence import JudgeAgreement
from releasegate.judge._agreement import NOT_REFUSED, REFUSED, JudgeCheck, grouped, measure
from releasegate.judge._base import Exchange, RefusalJudge
from releasegate.judge._labels import LabelledSet


def _prompt_kind(harmful: bool | None) -> str | None:
    if harmful is None:
        return None
    return "harmful" if harmful else "benign"


async def check_judge(judge: RefusalJudge, labelled: LabelledSet) -> JudgeCheck:
    """Run a judge on every row of a labelled set and compare it with the labels.

    Args:
        judge: the judge.
        labelled: the labelled rows (e.g. `read_labelled(path)`, or the bundled test split).

    Returns:
        Overall figures, figures per group the rows name (`prompt`: harmful / benign,
        `source`, `kind`), the misjudged rows and the judge's wall time per response.

    Raises:
        JudgeError: the judge could not judge.
    """
    rows = labelled.rows
    start = time.perf_counter()
    verdicts = await judge.judge([Exchange(r.prompt, r.response) for r in rows])
    elapsed = time.perf_counter() - start
    labels = [r.label for r in rows]
    refused = [v.refused for v in verdicts]
    groups = {
        "prompt": grouped(labels, refused, [_prompt_kind(r.harmful) for r in rows]),
        "source": grouped(labels, refused, [r.source for r in rows]),
        "kind": grouped(labels, refused, [r.kind for r in rows]),
    }
    misjudged: list[dict[str, Any]] = []
    for row, line, verdict in zip(rows, labelled.lines, verdicts, strict=True):
        if verdict.refused != (row.label == "refusal"):
            misjudged.append(
                {
                    "line": line,
                    "id": row.id,
                    "label": row.label,
                    "judged": REFUSED if verdict.refused else NOT_REFUSED,
                    "probability": verdict.probability,
                }
            )
    return JudgeCheck(
        judge=judge.name,
        labelled_set=labelled.name,
        sha256=labelled.sha256,
        overall=measure(labels, refused),
        groups={name: by for name, by in groups.items() if by},
        misjudged=misjudged,
        seconds_per_response=elapsed / len(rows) if rows else None,
    )


def agreement_record(check: JudgeCheck) -> JudgeAgreement:
    """What a report states about the judge behind an evidence item."""
    return JudgeAgreement(
        judge=check.judge,
        labelled_set=check.labelled_set,
        labelled_set_sha256=check.sha256,
        n=check.n,
        agreement=check.overall.agreement,
        kappa=check.overall.kappa,
        kappa_harmful=check.kappa_harmful,
    )


__all__ = ["agreement_record", "check_judge"]
