"""Request and response bodies of the research endpoints (`/v1/research/...`).

Requests are validated with these models (unknown fields, NaN and infinity are refused, so a
typo is a 400 naming the field, not a silently ignored option). Responses are built as plain
dicts on the hot path (a pydantic model over a million floats costs more than the forward pass);
the response models document their shape and tests validate real responses against them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from releasegate._util.wire import NonEmptyText, Text
from releasegate.backends._base import ChatMessage

Pool = Literal["none", "mean", "last"]
Encoding = Literal["float", "base64"]


class ResearchRequest(BaseModel):
    """What every research request has: the model it is for."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    model: NonEmptyText = Field(description="the served model id (see GET /v1/models)")


class HiddenStatesRequest(ResearchRequest):
    """`POST /v1/research/hidden_states`: residual-stream activations of a text."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"model": "bundled:smollm2", "input": "Open weights", "layers": [0, -1]}]
        }
    )

    input: NonEmptyText = Field(description="the text to run through the model")
    layers: list[int] = Field(
        min_length=1,
        description=(
            "layers to return: 0 is the embedding output, L the output of decoder block L "
            "(before the final norm); negative indices count from the last layer"
        ),
    )
    pool: Pool = Field(
        default="none",
        description="'none': one vector per token; 'mean': the tokens' mean; 'last': last token",
    )
    encoding_format: Encoding = Field(
        default="float",
        description="'float': JSON numbers; 'base64': little-endian float32 bytes, base64",
    )


class LogitLensRequest(ResearchRequest):
    """`POST /v1/research/logit_lens`: each layer read through the final norm and unembedding."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"model": "bundled:smollm2", "input": "Open weights", "layers": [6], "top_k": 3}
            ]
        }
    )

    input: NonEmptyText
    layers: list[int] = Field(min_length=1)
    top_k: int = Field(default=5, ge=1, le=100, description="predictions kept per position")


class SteerMessage(BaseModel):
    """A chat message of a steered generation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: Text


class SteerRequest(ResearchRequest):
    """`POST /v1/research/steer`: generate while adding `scale * vector` at a layer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "bundled:smollm2",
                    "messages": [{"role": "user", "content": "Tell me about cats."}],
                    "layer": 6,
                    "vector": [0.0, 0.5],
                    "scale": 4.0,
                    "max_tokens": 16,
                }
            ]
        }
    )

    messages: list[SteerMessage] = Field(min_length=1)
    layer: int = Field(description="where the vector is added (0: embedding output)")
    vector: list[float] = Field(min_length=1, description="one value per hidden dimension")
    scale: float = 1.0
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int | None = None

    def chat_messages(self) -> list[ChatMessage]:
        """The messages as the backend takes them."""
        return [ChatMessage.model_construct(role=m.role, content=m.content) for m in self.messages]


class ResearchUsage(BaseModel):
    """What a research request cost: tokens against the token quota, floats against the key's
    daily extraction budget (`extraction_budget_remaining` is None when the tier has none)."""

    prompt_tokens: int
    completion_tokens: int = 0
    floats: int
    extraction_budget_remaining: int | None


class LayerStates(BaseModel):
    layer: int
    shape: list[int]
    data: list[list[float]] | list[float] | str  # str: base64 of float32 (little-endian)


class HiddenStatesResponse(BaseModel):
    object: Literal["research.hidden_states"]
    model: str
    tokens: list[str]
    pool: Pool
    encoding_format: Encoding
    layers: list[LayerStates]
    usage: ResearchUsage


class LensPrediction(BaseModel):
    token: str
    prob: float


class LensLayer(BaseModel):
    layer: int
    positions: list[list[LensPrediction]]  # per input position, the top-k next tokens


class LogitLensResponse(BaseModel):
    object: Literal["research.logit_lens"]
    model: str
    tokens: list[str]
    top_k: int
    layers: list[LensLayer]
    usage: ResearchUsage


class SteerResponse(BaseModel):
    object: Literal["research.steer"]
    model: str
    layer: int
    scale: float
    text: str
    finish_reason: Literal["stop", "length", "content_filter"]
    usage: ResearchUsage


__all__ = [
    "HiddenStatesRequest",
    "HiddenStatesResponse",
    "LayerStates",
    "LensLayer",
    "LensPrediction",
    "LogitLensRequest",
    "LogitLensResponse",
    "ResearchUsage",
    "SteerRequest",
    "SteerResponse",
]
