"""Screening a training file before any training: every example through the tier's input and
output guards, the way the gateway judges a request and its answer.

An example's request side (every message but the assistant's) goes through the input guards
and each assistant message through the output guards, in its conversation's context; guards
normalise obfuscated text (homoglyphs, leetspeak, base64...) as they do for requests. A file is
rejected when any example is flagged in a blocked category (one is enough: a few dozen harmful
examples strip a model's safeguards, Qi et al. 2023) or when more than the tier's share of its
examples is flagged. The report names lines and categories only, never the text.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from releasegate.finetune._files import Example
from releasegate.guards._base import GuardVerdict
from releasegate.guards._chain import GuardChain, combine

# Examples judged at once: guards are async (a remote guard overlaps its round trips).
_CONCURRENCY = 16


@dataclass(frozen=True)
class ScreeningPolicy:
    """When a file is rejected (a tier's `fine_tuning_blocked_categories` and
    `fine_tuning_max_flagged_fraction`)."""

    blocked_categories: frozenset[str]
    max_flagged_fraction: float


class FlaggedLine(BaseModel):
    """One flagged example: its line, where it was flagged and the hazard categories."""

    line: int
    side: str = Field(description="'input' (the request messages) or 'output' (an answer)")
    categories: list[str]
    guard: str


class ScreeningReport(BaseModel):
    """The result of screening one file (stored with the file and in the audit log)."""

    examples: int
    flagged: list[FlaggedLine]
    blocked_lines: list[int] = Field(description="lines flagged in a blocked category")
    flagged_fraction: float
    max_flagged_fraction: float
    blocked_categories: list[str]
    passed: bool
    reason: str | None = None
    guards: str
    seconds: float


async def _judge(chain: GuardChain, example: Example) -> list[tuple[str, GuardVerdict]]:
    messages = example.messages
    request = [m for m in messages if m.role != "assistant"]
    found: list[tuple[str, GuardVerdict]] = []
    verdict = await chain.check_input(request)
    if verdict.flagged:
        found.append(("input", verdict))
    answers = [
        chain.check_output(m.content, messages[:i])
        for i, m in enumerate(messages)
        if m.role == "assistant"
    ]
    outputs = [v for v in await asyncio.gather(*answers) if v.flagged]
    if outputs:
        found.append(("output", combine(outputs)))
    return found


async def screen_examples(
    examples: Sequence[Example], chain: GuardChain, policy: ScreeningPolicy
) -> ScreeningReport:
    """Judge every example with `chain` and decide whether the file may be trained on.

    Args:
        examples: the parsed file.
        chain: the tier's guards (a `GuardError` propagates: the caller refuses, fail closed).
        policy: the blocked categories and the flagged share allowed.

    Returns:
        The report; `passed` is False when the file must be rejected.
    """
    started = time.perf_counter()
    semaphore = asyncio.Semaphore(_CONCURRENCY)

    async def one(example: Example) -> list[tuple[str, GuardVerdict]]:
        async with semaphore:
            return await _judge(chain, example)

    results = await asyncio.gather(*(one(e) for e in examples))
    flagged: list[FlaggedLine] = []
    flagged_lines: set[int] = set()
    blocked: set[int] = set()
    for example, found in zip(examples, results, strict=True):
        for side, verdict in found:
            cats = [c.value for c in verdict.categories]
            flagged.append(
                FlaggedLine(line=example.line, side=side, categories=cats, guard=verdict.guard)
            )
            flagged_lines.add(example.line)
            if set(cats) & policy.blocked_categories:
                blocked.add(example.line)
    n = len(examples)
    fraction = len(flagged_lines) / n if n else 0.0
    reason = None
    if blocked:
        reason = (
            f"{len(blocked)} example(s) flagged in a blocked category "
            f"({', '.join(sorted(policy.blocked_categories, key=lambda c: int(c[1:])))})"
        )
    elif fraction > policy.max_flagged_fraction:
        reason = (
            f"{len(flagged_lines)} of {n} examples flagged ({fraction:.1%}), above this tier's "
            f"limit of {policy.max_flagged_fraction:.1%}"
        )
    return ScreeningReport(
        examples=n,
        flagged=flagged,
        blocked_lines=sorted(blocked),
        flagged_fraction=round(fraction, 4),
        max_flagged_fraction=policy.max_flagged_fraction,
        blocked_categories=sorted(policy.blocked_categories, key=lambda c: int(c[1:])),
        passed=reason is None,
        reason=reason,
        guards=chain.name,
        seconds=round(time.perf_counter() - started, 3),
    )


__all__ = ["FlaggedLine", "ScreeningPolicy", "ScreeningReport", "screen_examples"]
