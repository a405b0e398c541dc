"""Request and response bodies of the OpenAI-compatible routes, as pydantic models.

Requests are validated strictly (`"max_tokens": "9"` is a 400, not 9), NaN and infinity are
refused, and unknown fields are ignored, as OpenAI's SDKs add optional fields over time. Fields
that need a tier capability (logprobs, logit_bias, tools, n) are kept so the tier check can
refuse them. Responses are built as plain dicts on the hot path; these response models document
their shape in `/openapi.json`, and tests validate real responses against them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from releasegate._util.wire import NonEmptyText, Text, Unsupported


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)


class TextPart(_Wire):
    """A content part; only text parts are supported."""

    type: Literal["text"]
    text: Text


def _content_kind(value: object) -> str | None:
    if isinstance(value, str):
        return "as-text"
    if isinstance(value, list):
        return "as-parts"
    return None


# Union tags are not identifiers, so error paths leave them out (see _validation.field_path).
Content = Annotated[
    Annotated[Text, Tag("as-text")] | Annotated[list[TextPart], Tag("as-parts")],
    Discriminator(
        _content_kind,
        custom_error_type="invalid_type",
        custom_error_message="expected a string or a list of text parts",
    ),
]


def _stop_kind(value: object) -> str | None:
    if isinstance(value, str):
        return "as-text"
    if isinstance(value, list):
        return "as-list"
    return None


Stop = Annotated[
    Annotated[Text, Tag("as-text")] | Annotated[list[Text], Field(max_length=4), Tag("as-list")],
    Discriminator(
        _stop_kind,
        custom_error_type="invalid_type",
        custom_error_message="expected a string or a list of up to 4 strings",
    ),
]


class Message(_Wire):
    """A chat message: `developer` is read as `system`; tool messages are not supported."""

    role: Literal["system", "developer", "user", "assistant"]
    content: Content
    name: Text | None = None
    tool_calls: Unsupported = None
    function_call: Unsupported = None

    def text(self) -> str:
        """The content as one string (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(_Wire):
    include_usage: bool = False


class _Sampling(_Wire):
    """Fields chat and text completions share."""

    model: NonEmptyText = Field(description="the served model id (see GET /v1/models)")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    n: int | None = Field(default=None, ge=1, le=128)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    stop: Stop | None = None
    seed: int | None = None
    logit_bias: dict[str, float] | None = Field(
        default=None, description="needs the tier capability logit_bias; not served by backends"
    )
    user: Text | None = None

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class ChatCompletionRequest(_Sampling):
    """`POST /v1/chat/completions`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "echo",
                    "messages": [
                        {"role": "system", "content": "Answer briefly."},
                        {"role": "user", "content": [{"type": "text", "text": "Say hello."}]},
                    ],
                    "max_tokens": 16,
                    "stop": ["\n\n"],
                }
            ]
        }
    )

    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    tools: list[dict[str, object]] | None = Field(
        default=None, description="needs the tier capability tools; not served by backends"
    )
    functions: list[dict[str, object]] | None = None

    @model_validator(mode="after")
    def _top_needs_logprobs(self) -> ChatCompletionRequest:
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs requires logprobs to be true")
        return self


def _prompt_kind(value: object) -> str | None:
    if isinstance(value, str):
        return "as-text"
    if isinstance(value, list):
        return "as-list"
    return None


Prompt = Annotated[
    Annotated[Text, Tag("as-text")]
    | Annotated[list[Text], Field(min_length=1, max_length=1), Tag("as-list")],
    Discriminator(
        _prompt_kind,
        custom_error_type="invalid_type",
        custom_error_message="expected a string (or a list of one string)",
    ),
]


class CompletionRequest(_Sampling):
    """`POST /v1/completions` (legacy text completions); `logprobs` is an integer k (0-5)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"model": "echo", "prompt": "Once upon a time", "max_tokens": 8}]
        }
    )

    prompt: Prompt
    max_tokens: int = Field(default=16, ge=1)
    logprobs: int | None = Field(default=None, ge=0, le=5)
    echo: Literal[False] | None = Field(default=None, description="true is not supported")
    suffix: Unsupported = None
    best_of: Literal[1] | None = Field(default=None, description="only 1 is supported")

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


# ------------------------------------------------------------------------------ responses


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class TopLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int]


class TokenLogprobOut(TopLogprob):
    top_logprobs: list[TopLogprob]


class ChatLogprobs(BaseModel):
    content: list[TokenLogprobOut]


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


FinishReason = Literal["stop", "length", "content_filter"]


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChatLogprobs | None
    finish_reason: FinishReason


class ChatCompletion(BaseModel):
    """A chat completion; with `stream: true` the answer is `text/event-stream` of
    `chat.completion.chunk` events, ending with `data: [DONE]`."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]


class CompletionChoice(BaseModel):
    index: int
    text: str
    logprobs: CompletionLogprobs | None
    finish_reason: FinishReason


class TextCompletion(BaseModel):
    """A text completion; with `stream: true` the answer is `text/event-stream`."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage


class Model(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    """The models the calling key's tier may use."""

    object: Literal["list"]
    data: list[Model]


__all__ = [
    "ChatCompletion",
    "ChatCompletionRequest",
    "CompletionRequest",
    "Message",
    "ModelList",
    "TextCompletion",
]
