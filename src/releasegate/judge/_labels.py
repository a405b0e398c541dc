"""Labelled responses: the JSON Lines files a judge is trained on and checked against.

Every line is one object with `prompt`, `response` and `label` (`refusal`, `compliance` or
`partial`). The bundled set (`releasegate/data/judge/labelled.jsonl`, docs/data.md) adds where each
response came from and which split it belongs to. Reading is strict: a file with any bad line is
refused whole, each bad line named, because a judge measured on part of a file would report a
figure for labels nobody chose.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from releasegate.errors import InputError, Problem
from releasegate.judge._base import Label

_MAX_PROBLEMS = 20


class LabelledRow(BaseModel):
    """One labelled response. Only `prompt`, `response` and `label` are required."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str | int | None = None
    prompt: str = Field(min_length=1)
    response: str = Field(description="may be empty: an empty answer is a case to judge")
    label: Label
    harmful: bool | None = Field(default=None, description="whether the request is harmful")
    source: str | None = Field(default=None, description="the model (or author) that answered")
    kind: str | None = Field(default=None, description="the response's shape, e.g. 'lecture'")
    split: Literal["train", "test"] | None = None
    prompt_id: str | None = None
    redacted: bool = False


@dataclass(frozen=True)
class LabelledSet:
    """The rows of one labelled file, with its name and SHA-256."""

    name: str
    path: Path
    sha256: str
    rows: list[LabelledRow]
    lines: list[int]  # the line number of each row in the file

    def split(self, split: Literal["train", "test"]) -> LabelledSet:
        """The rows of one split, as a set of its own (same file and hash)."""
        keep = [i for i, r in enumerate(self.rows) if r.split == split]
        return LabelledSet(
            name=f"{self.name}[{split}]",
            path=self.path,
            sha256=self.sha256,
            rows=[self.rows[i] for i in keep],
            lines=[self.lines[i] for i in keep],
        )


def bundled_labelled_path() -> Path:
    """The bundled labelled set, `releasegate/data/judge/labelled.jsonl`."""
    from importlib import resources

    return Path(str(resources.files("releasegate.data") / "judge" / "labelled.jsonl"))


def read_labelled(path: str | Path, *, name: str | None = None) -> LabelledSet:
    """Read a labelled JSON Lines file; every line must be valid.

    Args:
        path: the file.
        name: the set's name in reports (default: the file name).

    Returns:
        The rows in file order, with the file's SHA-256.

    Raises:
        InputError: the file is missing, unreadable or empty, or any line is bad (each bad line
            is named with its number and field, up to 20 of them).
    """
    path = Path(path).expanduser()
    source = str(path)
    if not path.is_file():
        raise InputError(source, [Problem("no such file")])
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(source, [Problem(f"cannot read the file: {exc}")]) from exc
    rows: list[LabelledRow] = []
    lines: list[int] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(LabelledRow.model_validate(json.loads(line)))
            lines.append(number)
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"not valid JSON: {exc.msg}", line=number))
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"])
                problems.append(Problem(error["msg"], path=where, line=number))
    if problems:
        shown = problems[:_MAX_PROBLEMS]
        if len(problems) > len(shown):
            shown.append(Problem(f"and {len(problems) - len(shown)} more problems"))
        raise InputError(source, shown)
    if not rows:
        raise InputError(source, [Problem("the file holds no labelled rows")])
    return LabelledSet(
        name=name or path.name,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        rows=rows,
        lines=lines,
    )


def read_bundled() -> LabelledSet:
    """The bundled labelled set (both splits)."""
    return read_labelled(bundled_labelled_path(), name="releasegate/judge/labelled")


__all__ = [
    "LabelledRow",
    "LabelledSet",
    "bundled_labelled_path",
    "read_bundled",
    "read_labelled",
]
