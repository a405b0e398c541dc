"""The `ModelBackend` contract: every way of running a model (local transformers, an
OpenAI-compatible upstream, the bundled model) is used through this one interface by both
`assess` and the gateway. Backends know nothing of tiers, keys or policies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    import numpy as np


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class GenerationParams(BaseModel):
    """Sampling parameters, a subset of OpenAI's."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int = Field(default=0, ge=0, le=20)


class TokenLogprob(BaseModel):
    token: str
    logprob: float
    top: dict[str, float] = Field(default_factory=dict)


class Generation(BaseModel):
    """One completed generation."""

    text: str
    finish_reason: Literal["stop", "length"] = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    logprobs: list[TokenLogprob] | None = None


class StreamChunk(BaseModel):
    """A piece of a streamed generation; the last chunk carries `finish_reason` and usage."""

    text: str
    finish_reason: Literal["stop", "length"] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class BackendError(Exception):
    """The backend could not answer (unreachable upstream, timeout, out of memory...)."""


@runtime_checkable
class ModelBackend(Protocol):
    """What releasegate needs from a model."""

    @property
    def name(self) -> str:
        """The spec this backend was built from, e.g. 'bundled:smollm2'."""
        ...

    async def chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> Generation: ...

    def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]: ...

    async def complete(self, prompt: str, params: GenerationParams) -> Generation: ...

    async def choice_logprobs(self, prompt: str, choices: Sequence[str]) -> list[float]:
        """Sum of token logprobs of each choice as a continuation of `prompt` (for MCQ).

        Raises:
            BackendError: when the backend cannot give logprobs of given text (score by
                generation instead).
        """
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class HiddenStates:
    """Residual-stream activations of a text.

    Attributes:
        tokens: the text's tokens, as strings.
        layers: layer -> array (tokens, hidden) or (hidden,) when pooled. Layer 0 is the embedding
            output, layer L the output of decoder block L (before the final norm).
    """

    tokens: list[str]
    layers: dict[int, np.ndarray]


@dataclass(frozen=True)
class LensToken:
    token: str
    prob: float


@dataclass(frozen=True)
class LogitLens:
    """The logit lens (nostalgebraist 2020): each layer's residual stream read out through the
    model's final norm and unembedding.

    Attributes:
        tokens: the text's tokens, as strings.
        layers: layer -> per position, the top-k next-token predictions with probabilities.
    """

    tokens: list[str]
    layers: dict[int, list[list[LensToken]]]


Pool = Literal["none", "mean", "last"]


@runtime_checkable
class ResearchBackend(Protocol):
    """What a backend must offer for research access (`HFBackend` does; HTTP upstreams cannot:
    an OpenAI-compatible API exposes no internals)."""

    @property
    def num_layers(self) -> int: ...

    @property
    def hidden_size(self) -> int: ...

    def text_ids(self, text: str) -> list[int]: ...

    def chat_prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]: ...

    async def hidden_states(
        self, text: str, layers: Sequence[int] | None, pool: Pool
    ) -> HiddenStates: ...

    async def logit_lens(
        self, text: str, layers: Sequence[int] | None, top_k: int
    ) -> LogitLens: ...

    async def steer_generate(
        self,
        messages: Sequence[ChatMessage],
        layer: int,
        vector: Sequence[float],
        scale: float,
        params: GenerationParams,
    ) -> Generation: ...
