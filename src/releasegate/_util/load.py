"""Load YAML or JSON into a pydantic model, with errors that name file, field path and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from releasegate.errors import InputError, Problem

M = TypeVar("M", bound=BaseModel)

# libyaml's loader when PyYAML was built with it: ~13x faster than the pure-Python one (a policy
# or report parses in ~3 ms instead of ~35 ms), with the same marks for line numbers.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A field path is the tuple of keys and indices pydantic reports in `loc`.
Loc = tuple[str | int, ...]


def _yaml_lines(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*loc, key)] = key_node.start_mark.line + 1
            _yaml_lines(value_node, (*loc, key), out)
            out[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _yaml_lines(item, (*loc, index), out)


def format_loc(loc: Loc) -> str:
    """Render a pydantic location as `a.b[0].c`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    # Walk up the path until a known node: a missing field is reported at its parent's line.
    probe = tuple(loc)
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe[:-1]
    return lines.get(())


def parse_document(text: str, source: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML (JSON is YAML) text; return the data and a map from field path to line."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(source, [Problem(f"malformed YAML: {problem}", line=line)]) from exc
    lines: dict[Loc, int] = {}
    if node is not None:
        _yaml_lines(node, (), lines)
    return data, lines


def _problems_from(exc: ValidationError, lines: dict[Loc, int]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(Problem(message, path=format_loc(loc), line=_line_for(loc, lines)))
    return problems


def validate_data(model: type[M], data: Any, source: str, lines: dict[Loc, int] | None = None) -> M:
    """Validate parsed data as `model`, turning pydantic errors into an `InputError`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, _problems_from(exc, lines or {})) from exc


def read_document(path: str | Path) -> tuple[str, str]:
    """The text of a YAML or JSON file, and its name for error messages; a `.json` file is
    checked to parse as JSON (a YAML parser would accept some malformed JSON).

    Raises:
        InputError: the file is missing, unreadable, not UTF-8, or malformed JSON (with its line).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(source, [Problem("file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(source, [Problem(f"cannot read: {exc}")]) from exc
    if source.endswith(".json"):
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                source, [Problem(f"malformed JSON: {exc.msg}", line=exc.lineno)]
            ) from exc
    return source, text


def load_model(model: type[M], path: str | Path) -> M:
    """Read a YAML or JSON file and validate it as `model`.

    Raises:
        InputError: the file is missing, unreadable, malformed or invalid; the error names the
            file, the field path and (for YAML) the line.
    """
    source, text = read_document(path)
    if source.endswith(".json"):
        data = json.loads(text)  # read_document checked it parses
        try:
            return model.model_validate(data)
        except ValidationError:
            # JSON is a subset of YAML: compose it only when needed, to learn each field's line.
            _, lines = parse_document(text, source)
            return validate_data(model, data, source, lines)
    data, lines = parse_document(text, source)
    return validate_data(model, data, source, lines)
