"""OpenAI wire format: a validated request as the routes use it, responses and stream chunks.

Requests are validated by the pydantic models in `_openai_models` (the route table's request
models); `chat_request` and `completion_request` turn a validated model into a `ParsedRequest`
with the tier's defaults filled in. Responses are built as plain dicts and serialised with
orjson: on the hot path that is several times cheaper than building response models.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import orjson

from releasegate.backends._base import (
    ChatMessage,
    Generation,
    GenerationParams,
    TokenLogprob,
)
from releasegate.gateway._errors import ApiError
from releasegate.gateway._openai_models import (
    ChatCompletionRequest,
    CompletionRequest,
    Message,
    _Sampling,
)


@dataclass(slots=True)
class ParsedRequest:
    """A validated chat or text completion request, with the tier's defaults filled in."""

    kind: str  # "chat" | "completion"
    model: str
    messages: list[ChatMessage]
    prompt: str
    params: GenerationParams
    n: int = 1
    stream: bool = False
    include_usage: bool = False
    logit_bias: dict[str, float] | None = None
    tools: bool = False
    input_bytes: int = 0


def _message(m: Message) -> ChatMessage:
    role = "system" if m.role == "developer" else m.role
    return ChatMessage.model_construct(role=role, content=m.text())


def _params(req: _Sampling, max_tokens: int, logprobs: bool, top_logprobs: int) -> GenerationParams:
    # Already validated by the request model: construct without validating again.
    return GenerationParams.model_construct(
        max_tokens=max_tokens,
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        stop=req.stop_list(),
        seed=req.seed,
        logprobs=logprobs,
        top_logprobs=top_logprobs,
    )


def _logit_bias(req: _Sampling) -> dict[str, float] | None:
    return req.logit_bias or None


def chat_request(req: ChatCompletionRequest, default_max_tokens: int) -> ParsedRequest:
    """A validated `/v1/chat/completions` body as the route uses it.

    Args:
        req: the validated request.
        default_max_tokens: used when the request names none (the tier's cap).
    """
    messages = [_message(m) for m in req.messages]
    max_tokens = req.max_completion_tokens or req.max_tokens or default_max_tokens
    stream = bool(req.stream)
    return ParsedRequest(
        kind="chat",
        model=req.model,
        messages=messages,
        prompt="",
        params=_params(req, max_tokens, bool(req.logprobs), req.top_logprobs or 0),
        n=req.n or 1,
        stream=stream,
        include_usage=stream
        and req.stream_options is not None
        and req.stream_options.include_usage,
        logit_bias=_logit_bias(req),
        tools=bool(req.tools or req.functions),
        input_bytes=sum(len(m.content.encode()) + 8 for m in messages),
    )


def completion_request(req: CompletionRequest) -> ParsedRequest:
    """A validated `/v1/completions` body as the route uses it."""
    prompt = req.prompt_text()
    stream = bool(req.stream)
    return ParsedRequest(
        kind="completion",
        model=req.model,
        messages=[ChatMessage.model_construct(role="user", content=prompt)],
        prompt=prompt,
        params=_params(req, req.max_tokens, req.logprobs is not None, req.logprobs or 0),
        n=req.n or 1,
        stream=stream,
        include_usage=stream
        and req.stream_options is not None
        and req.stream_options.include_usage,
        logit_bias=_logit_bias(req),
        input_bytes=len(prompt.encode()) + 8,
    )


# ---------------------------------------------------------------------------------- responses


def new_id(kind: str) -> str:
    return ("chatcmpl-" if kind == "chat" else "cmpl-") + os.urandom(16).hex()


def _chat_logprobs(items: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if items is None:
        return None
    return {
        "content": [
            {
                "token": t.token,
                "logprob": t.logprob,
                "bytes": list(t.token.encode()),
                "top_logprobs": [
                    {"token": k, "logprob": v, "bytes": list(k.encode())} for k, v in t.top.items()
                ],
            }
            for t in items
        ]
    }


def _completion_logprobs(items: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if items is None:
        return None
    offsets, pos = [], 0
    for t in items:
        offsets.append(pos)
        pos += len(t.token)
    return {
        "tokens": [t.token for t in items],
        "token_logprobs": [t.logprob for t in items],
        "top_logprobs": [dict(t.top) for t in items],
        "text_offset": offsets,
    }


@dataclass(slots=True)
class Answer:
    """One choice as the gateway will return it (after output guards)."""

    text: str
    finish_reason: str
    logprobs: list[TokenLogprob] | None = None


def response_body(
    req: ParsedRequest, rid: str, model: str, answers: list[Answer], gens: list[Generation]
) -> dict[str, Any]:
    prompt_tokens = gens[0].prompt_tokens if gens else 0
    completion_tokens = sum(g.completion_tokens for g in gens)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    created = int(time.time())
    if req.kind == "chat":
        return {
            "id": rid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": a.text},
                    "logprobs": _chat_logprobs(a.logprobs),
                    "finish_reason": a.finish_reason,
                }
                for i, a in enumerate(answers)
            ],
            "usage": usage,
        }
    return {
        "id": rid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": i,
                "text": a.text,
                "logprobs": _completion_logprobs(a.logprobs),
                "finish_reason": a.finish_reason,
            }
            for i, a in enumerate(answers)
        ],
        "usage": usage,
    }


def stream_chunk(
    req: ParsedRequest,
    rid: str,
    model: str,
    created: int,
    text: str | None,
    finish_reason: str | None = None,
    *,
    first: bool = False,
) -> bytes:
    """One `data: {...}\\n\\n` server-sent event."""
    if req.kind == "chat":
        delta: dict[str, Any] = {}
        if first:
            delta["role"] = "assistant"
        if text is not None:
            delta["content"] = text
        choice: dict[str, Any] = {
            "index": 0,
            "delta": delta,
            "logprobs": None,
            "finish_reason": finish_reason,
        }
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}
        obj = "text_completion"
    chunk = {"id": rid, "object": obj, "created": created, "model": model, "choices": [choice]}
    if req.include_usage:
        chunk["usage"] = None
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def usage_chunk(
    req: ParsedRequest, rid: str, model: str, created: int, prompt: int, completion: int
) -> bytes:
    obj = "chat.completion.chunk" if req.kind == "chat" else "text_completion"
    chunk = {
        "id": rid,
        "object": obj,
        "created": created,
        "model": model,
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def error_event(error: ApiError, request_id: str | None = None) -> bytes:
    """An error sent inside a stream; the `openai` SDK raises `APIError` when it reads one."""
    return b"data: " + error.body_bytes(request_id) + b"\n\n"


DONE = b"data: [DONE]\n\n"

__all__ = [
    "DONE",
    "Answer",
    "ParsedRequest",
    "chat_request",
    "completion_request",
    "error_event",
    "new_id",
    "response_body",
    "stream_chunk",
    "usage_chunk",
]
