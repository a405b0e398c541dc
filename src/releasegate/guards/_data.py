"""The labelled guard data: `src/releasegate/data/guards/*.jsonl`.

- `train.jsonl`, `train_everyday.jsonl`, `train_safety.jsonl`, `public_dna_malicious.jsonl`,
  `public_advbench.jsonl`: training;
- `heldout.jsonl`, `heldout_benign_safety.jsonl` (safety-minded and fiction requests, benign),
  `public_harmbench.jsonl` (HarmBench's behaviours): evaluation only.

Public rows come from `scripts/import_public_guard_data.py` (sources in docs/data.md).

`train_everyday.jsonl` (written with the guards) holds ordinary benign traffic the sensitive-
looking training split lacks: task instructions, system prompts and assistant-style answers.

Rows are `{"id", "text", "label": "harmful"|"benign", "category": "S1".."S14"|null}`: harmful
*requests* (as public refusal benchmarks hold them, never answers) and benign prompts that look
sensitive.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from releasegate._util.load import format_loc
from releasegate.errors import InputError, Problem
from releasegate.guards._taxonomy import HazardCategory


class GuardExample(BaseModel):
    """One labelled request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    text: str
    label: Literal["harmful", "benign"]
    category: HazardCategory | None = None

    @model_validator(mode="after")
    def _category_iff_harmful(self) -> GuardExample:
        if self.label == "harmful" and self.category is None:
            raise ValueError("a harmful row needs a category (S1..S14)")
        return self

    @property
    def harmful(self) -> bool:
        return self.label == "harmful"


SplitName = Literal[
    "train",
    "train_everyday",
    "heldout",
    "heldout_benign_safety",
    "public_harmbench",
    "public_dna_malicious",
    "public_advbench",
]


def bundled_split(name: SplitName) -> Path:
    """Path of a bundled split."""
    return Path(str(files("releasegate.data").joinpath("guards", f"{name}.jsonl")))


def load_examples(path: Path) -> list[GuardExample]:
    """Read a JSONL file of labelled requests.

    Raises:
        InputError: naming the file, line and field of every bad row (nothing is returned).
    """
    problems: list[Problem] = []
    rows: list[GuardExample] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), [Problem(f"cannot read: {exc}")]) from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = GuardExample.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"not JSON: {exc.msg}", line=number))
            continue
        except ValidationError as exc:
            problems.extend(
                Problem(e["msg"], path=format_loc(tuple(e["loc"])), line=number)
                for e in exc.errors()
            )
            continue
        if row.id in seen:
            problems.append(Problem(f"duplicate id {row.id!r}", path="id", line=number))
        seen.add(row.id)
        rows.append(row)
    if problems:
        raise InputError(str(path), problems)
    if not rows:
        raise InputError(str(path), [Problem("no rows")])
    return rows
