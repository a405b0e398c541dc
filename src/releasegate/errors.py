"""Errors that name what was wrong and where: the file, the field path and, for YAML, the line."""

from __future__ import annotations

from dataclasses import dataclass, field


class ReleasegateError(Exception):
    """Base class of every error releasegate raises on purpose."""


@dataclass
class Problem:
    """One problem found in an input: where it is and what is wrong."""

    message: str
    path: str = ""  # dotted field path, e.g. "domains.cbrn.indicators[0].cutoffs"
    line: int | None = None  # 1-based line in the source file, where known

    def render(self, source: str | None) -> str:
        where = source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            where += f": {self.path}"
        return f"{where}: {self.message}"


@dataclass
class InputError(ReleasegateError):
    """Bad input (a report, a policy, a dataset...). The CLI prints it and exits with code 2."""

    source: str | None
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(p.render(self.source) for p in self.problems) or f"{self.source}: invalid"


__all__ = ["InputError", "Problem", "ReleasegateError"]
