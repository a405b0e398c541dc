"""The `Guard` contract: input and output safety filters that sit in the gateway's pipeline.

A guard that cannot decide (its model is missing, its endpoint is down) raises `GuardError`;
the pipeline then refuses the request (fail closed), it never lets it through unguarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, Field

from releasegate.backends._base import ChatMessage
from releasegate.guards._taxonomy import HazardCategory


class GuardVerdict(BaseModel):
    """A guard's judgement of one text."""

    flagged: bool
    score: float = Field(ge=0.0, le=1.0, description="confidence that the text is harmful")
    categories: list[HazardCategory] = Field(default_factory=list)
    guard: str = ""


class GuardError(Exception):
    """The guard could not judge; callers must fail closed."""


class GuardInputTooLarge(GuardError):
    """The text is more than the guard will score per request (its cost would be a denial of
    service); callers refuse the request as too large (413), never pass it unscored."""


@runtime_checkable
class Guard(Protocol):
    @property
    def name(self) -> str: ...

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        """Judge a request before it reaches the model."""
        ...

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        """Judge (part of) a model's answer before it reaches the client."""
        ...
