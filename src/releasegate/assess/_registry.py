"""What Inspect loads through the `inspect_ai` entry point: releasegate's tasks and its model API.

After `pip install releasegate`, `inspect eval releasegate/capability_mcq --model
releasegate/bundled:smollm2` works from the shell like any Inspect extension package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from releasegate.assess._mcq import capability_mcq, require_inspect_evals
from releasegate.assess._modelapi import ReleasegateModelAPI
from releasegate.assess._refusal import jailbreak, over_refusal, refusal

TASKS: dict[str, Callable[..., Any]] = {
    "capability_mcq": capability_mcq,
    "refusal": refusal,
    "over_refusal": over_refusal,
    "jailbreak": jailbreak,
}


def check_inspect_evals(data: Mapping[str, str]) -> None:
    """Fail early (bad input) when `--data` names inspect-evals tasks that cannot run."""
    for value in data.values():
        if value.startswith("inspect_evals/"):
            require_inspect_evals(value)


__all__ = ["TASKS", "ReleasegateModelAPI", "check_inspect_evals"]
