"""Training files: JSONL in OpenAI's chat format, checked line by line against a tier's limits.

Each line is `{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}` with at
least one user message and an assistant message last (the answer the model learns). Problems are
reported by line number and field path, never by echoing the text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from releasegate.backends._base import ChatMessage
from releasegate.errors import InputError, Problem

MAX_PROBLEMS = 20  # problems listed in one error (the first ones); the count says how many


@dataclass(frozen=True)
class FileLimits:
    """What one training file may hold (a tier's `fine_tuning_max_*`)."""

    max_bytes: int
    max_examples: int


@dataclass(frozen=True)
class Example:
    """One training conversation and the line of the file it came from (1-based)."""

    line: int
    messages: tuple[ChatMessage, ...]


@dataclass(frozen=True)
class TrainingFile:
    """A parsed training file."""

    examples: tuple[Example, ...]
    bytes: int
    sha256: str

    @property
    def text_bytes(self) -> int:
        """Bytes of message text: an upper bound of its tokens (a token is at least a byte)."""
        return sum(len(m.content.encode()) for e in self.examples for m in e.messages)


def _line_problems(number: int, raw: str) -> tuple[Example | None, list[Problem]]:
    def bad(message: str, path: str = "") -> Problem:
        return Problem(message, path=path, line=number)

    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, [bad(f"not JSON ({exc.msg} at column {exc.colno})")]
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return None, [bad('expected an object with a "messages" list')]
    extra = sorted(set(obj) - {"messages"})
    if extra:
        return None, [bad(f"unknown field(s) {', '.join(extra)}")]
    messages: list[ChatMessage] = []
    problems: list[Problem] = []
    for j, m in enumerate(obj["messages"]):
        path = f"messages[{j}]"
        if not isinstance(m, dict):
            problems.append(bad("expected an object", path))
            continue
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "user", "assistant"):
            problems.append(bad("role must be system, user or assistant", path + ".role"))
            continue
        if not isinstance(content, str) or not content.strip():
            problems.append(bad("content must be a non-empty string", path + ".content"))
            continue
        extra_keys = sorted(set(m) - {"role", "content", "weight", "name"})
        if extra_keys:
            problems.append(bad(f"unsupported field(s) {', '.join(extra_keys)}", path))
            continue
        messages.append(ChatMessage(role=role, content=content))
    if problems:
        return None, problems
    if not any(m.role == "user" for m in messages):
        return None, [bad("no user message", "messages")]
    if not messages or messages[-1].role != "assistant":
        return None, [bad("the last message must be the assistant's", "messages")]
    return Example(number, tuple(messages)), []


def parse_training_file(data: bytes, limits: FileLimits, *, name: str = "file") -> TrainingFile:
    """Parse and check a JSONL training file.

    Args:
        data: the file's bytes (UTF-8).
        limits: the tier's size and line limits.
        name: the file's name, for error messages.

    Returns:
        The examples, each with its line number.

    Raises:
        InputError: too large, too many lines, not UTF-8, or malformed lines (each named by line
            number and field path; the first `MAX_PROBLEMS`, then a count).
    """
    if len(data) > limits.max_bytes:
        raise InputError(
            name, [Problem(f"{len(data)} bytes exceeds this tier's limit of {limits.max_bytes}")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(name, [Problem(f"not UTF-8 (byte {exc.start})")]) from None
    examples: list[Example] = []
    problems: list[Problem] = []
    lines = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if len(lines) > limits.max_examples:
        raise InputError(
            name,
            [Problem(f"{len(lines)} examples exceed this tier's limit of {limits.max_examples}")],
        )
    if not lines:
        raise InputError(name, [Problem("no examples (one JSON object per line expected)")])
    for number, raw in lines:
        example, found = _line_problems(number, raw)
        problems += found
        if example is not None:
            examples.append(example)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(Problem(f"... and {len(problems) - MAX_PROBLEMS} more problems"))
        raise InputError(name, shown)
    return TrainingFile(tuple(examples), len(data), hashlib.sha256(data).hexdigest())


__all__ = ["Example", "FileLimits", "TrainingFile", "parse_training_file"]
