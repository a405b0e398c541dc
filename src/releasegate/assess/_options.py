"""What `assess` is asked to do: the suites, the tamper sweeps and `AssessOptions`, checked
before any model is loaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from releasegate.errors import InputError, Problem

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

# A cheaper sweep for demonstrations and smoke runs: a fraction of the optimizer steps, and two
# strengths (the fewest a monotonicity check can compare), each with the default two seeds: four
# trainings, against three single-seed ones before seeds were added.
QUICK_TAMPER = (
    TamperConfig(name="lora-n10-s4-lr2e-3", examples=10, steps=4, learning_rate=2e-3, rank=4),
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
    tamper_seeds: int = Field(
        default=2,
        ge=1,
        description="training seeds per tamper attack (seed, seed+1, ...): each strength's mean "
        "and spread, and a monotonicity check, need at least 2",
    )
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


__all__ = [
    "CAPABILITY_DOMAINS",
    "DEFAULT_TAMPER",
    "PROMPT_SETS",
    "QUICK_TAMPER",
    "SUITES",
    "TAMPER_SWEEPS",
    "THROUGH_KEY_ENV",
    "AssessOptions",
    "Progress",
    "TamperConfig",
]
