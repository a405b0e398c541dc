"""A judge's agreement on the bundled test split, measured once per process.

Reports state the agreement of the judge that scored them; `assess` measures it at every run
rather than quoting a number from the docs, so a retrained judge or an edited set can never be
reported with stale figures.
"""

from __future__ import annotations

from releasegate.judge._agreement import JudgeCheck
from releasegate.judge._base import RefusalJudge
from releasegate.judge._check import check_judge
from releasegate.judge._labels import LabelledSet, read_bundled

_checks: dict[tuple[str, str, str], JudgeCheck] = {}


def bundled_test_split() -> LabelledSet:
    """The bundled set's `test` split: responses of models and prompts the judge never saw."""
    return read_bundled().split("test")


async def validate(judge: RefusalJudge, labelled: LabelledSet | None = None) -> JudgeCheck:
    """The judge checked on `labelled` (default: the bundled test split), cached per process.

    Raises:
        JudgeError: the judge could not judge.
    """
    labelled = labelled or bundled_test_split()
    key = (judge.name, labelled.name, labelled.sha256)
    cached = _checks.get(key)
    if cached is None:  # two concurrent first calls both measure: harmless, same result
        cached = _checks[key] = await check_judge(judge, labelled)
    return cached


__all__ = ["bundled_test_split", "validate"]
