"""Reading the suites' JSON Lines datasets: rows validated one by one, bad rows counted.

A malformed row is reported as `file:line` and skipped; the run goes on and the report says how
many rows were dropped. A file with no usable row at all is bad input.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from releasegate.errors import InputError, Problem

_R = TypeVar("_R", bound=BaseModel)


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class MCQRow(_Row):
    """The WMDP record format (Li et al. 2024): `answer` is the 0-based index of the choice."""

    id: str | int | None = None
    question: str = Field(min_length=1)
    choices: list[str] = Field(min_length=2, max_length=26)
    answer: int = Field(ge=0)

    @model_validator(mode="after")
    def _answer_in_range(self) -> MCQRow:
        if self.answer >= len(self.choices):
            raise ValueError(
                f"answer {self.answer} is not an index of the {len(self.choices)} choices"
            )
        return self


class PromptRow(_Row):
    """A request: harmful (`category`) or benign but sensitive-looking (`type`)."""

    id: str | int | None = None
    prompt: str = Field(min_length=1)
    category: str | None = None
    type: str | None = None


class ChatRow(_Row):
    """A fine-tuning conversation ending with the assistant turn to learn."""

    messages: list[dict[str, str]] = Field(min_length=2)


@dataclass(frozen=True)
class Dataset(Generic[_R]):
    """Rows of one file, its hash and the rows that were skipped (as problems)."""

    name: str
    path: Path
    sha256: str
    rows: list[_R]
    skipped: list[Problem] = field(default_factory=list)
    demonstration_proxy: bool = False

    def describe_skipped(self) -> str:
        lines = [p.render(str(self.path)) for p in self.skipped[:5]]
        more = len(self.skipped) - len(lines)
        return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")


def bundled_path(relative: str) -> Path:
    """Path of a file under `releasegate/data/` (e.g. `capability/cbrn.jsonl`)."""
    return Path(str(resources.files("releasegate.data") / relative))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_jsonl(
    path: str | Path,
    row_type: type[_R],
    *,
    name: str | None = None,
    demonstration_proxy: bool = False,
) -> Dataset[_R]:
    """Read and validate a JSON Lines file.

    Args:
        path: the file.
        row_type: the pydantic model of one row.
        name: dataset name for the report (default: the file name).
        demonstration_proxy: mark the set as a benign proxy, not a hazard measurement.

    Returns:
        The valid rows, with each invalid one recorded as a `Problem` (line number included).

    Raises:
        InputError: the file is missing or unreadable, or no row is valid.
    """
    path = Path(path).expanduser()
    source = str(path)
    if not path.is_file():
        raise InputError(source, [Problem("no such dataset file")])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(source, [Problem(f"cannot read the file: {exc}")]) from exc
    rows: list[_R] = []
    skipped: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(row_type.model_validate(json.loads(line)))
        except json.JSONDecodeError as exc:
            skipped.append(Problem(f"not valid JSON: {exc.msg}", line=number))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            skipped.append(Problem(first["msg"], path=where, line=number))
    if not rows:
        problems = skipped or [Problem("the file holds no rows")]
        raise InputError(source, problems[:10])
    return Dataset(
        name=name or path.name,
        path=path,
        sha256=file_sha256(path),
        rows=rows,
        skipped=skipped,
        demonstration_proxy=demonstration_proxy,
    )


__all__ = [
    "ChatRow",
    "Dataset",
    "MCQRow",
    "PromptRow",
    "bundled_path",
    "file_sha256",
    "read_jsonl",
]
