"""OpenAI wire format: parse and validate requests, build responses and stream chunks.

Parsing is done by hand on the decoded JSON rather than with pydantic models: it is on the hot
path of every request, and it lets each refusal name the offending field the way OpenAI does
(`param`). Unknown fields are ignored, as the SDKs add optional ones over time; fields that need a
capability (logprobs, logit_bias, tools, n) are kept so the tier check can refuse them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from releasegate.backends._base import (
    ChatMessage,
    Generation,
    GenerationParams,
    TokenLogprob,
)
from releasegate.gateway._errors import ApiError, bad_request

_ROLES: dict[str, Literal["system", "user", "assistant"]] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


@dataclass(slots=True)
class ParsedRequest:
    """A validated chat or text completion request."""

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
    echo: bool = False
    input_bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def decode_json(body: bytes) -> dict[str, Any]:
    """Decode a request body: invalid UTF-8 or JSON, or a non-object, is a 400."""
    if not body:
        raise bad_request("the request body is empty; send a JSON object", code="empty_body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(
            f"the request body is not valid UTF-8 (byte {exc.start}: {exc.reason})",
            code="invalid_utf8",
        ) from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise bad_request(
            f"the request body is not valid JSON: {exc}", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise bad_request(
            f"the request body must be a JSON object, not {type(data).__name__}",
            code="invalid_json",
        )
    return data


def _type_error(param: str, expected: str, value: Any) -> ApiError:
    return bad_request(
        f"{param}: expected {expected}, got {type(value).__name__} {_short(value)}",
        param=param,
        code="invalid_type",
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int(
    data: dict[str, Any], name: str, default: int | None, lo: int, hi: int | None
) -> int | None:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(name, "an integer", value)
    if value < lo or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise bad_request(
            f"{name}: must be {bounds}, got {value}", param=name, code="invalid_value"
        )
    return value


def _float(data: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _type_error(name, "a number", value)
    if not lo <= value <= hi:
        raise bad_request(
            f"{name}: must be between {lo} and {hi}, got {value}", param=name, code="invalid_value"
        )
    return float(value)


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _type_error(name, "a boolean", value)
    return value


def _model(data: dict[str, Any]) -> str:
    model = data.get("model")
    if model is None:
        raise bad_request("model: required", param="model", code="missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _type_error("model", "a non-empty string", model)
    return model


def _stop(data: dict[str, Any]) -> list[str]:
    stop = data.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop) and len(stop) <= 4:
        return list(stop)
    raise _type_error("stop", "a string or a list of up to 4 strings", stop)


def _content(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for i, part in enumerate(value):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise bad_request(
                    f"{where}[{i}]: only text content parts are supported",
                    param=f"{where}[{i}]",
                    code="unsupported_content",
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise _type_error(f"{where}[{i}].text", "a string", text)
            parts.append(text)
        return "".join(parts)
    raise _type_error(where, "a string or a list of text parts", value)


def _messages(data: dict[str, Any]) -> list[ChatMessage]:
    raw = data.get("messages")
    if raw is None:
        raise bad_request("messages: required", param="messages", code="missing_required_parameter")
    if not isinstance(raw, list):
        raise _type_error("messages", "a list of messages", raw)
    if not raw:
        raise bad_request("messages: must not be empty", param="messages", code="invalid_value")
    out = []
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _type_error(where, "an object with role and content", m)
        role = m.get("role")
        if role == "tool" or m.get("tool_calls") or m.get("function_call"):
            raise bad_request(
                f"{where}: tool messages and tool calls are not supported by this gateway's models",
                param=where,
                code="unsupported_parameter",
            )
        if role not in _ROLES:
            raise bad_request(
                f"{where}.role: must be one of system, developer, user, assistant; got "
                f"{_short(role)}",
                param=f"{where}.role",
                code="invalid_value",
            )
        if "content" not in m or m["content"] is None:
            raise bad_request(
                f"{where}.content: required",
                param=f"{where}.content",
                code="missing_required_parameter",
            )
        text = _content(m["content"], f"{where}.content")
        out.append(ChatMessage.model_construct(role=_ROLES[role], content=text))
    return out


def _stream_options(data: dict[str, Any]) -> bool:
    opts = data.get("stream_options")
    if opts is None:
        return False
    if not isinstance(opts, dict):
        raise _type_error("stream_options", "an object", opts)
    value = opts.get("include_usage", False)
    if not isinstance(value, bool):
        raise _type_error("stream_options.include_usage", "a boolean", value)
    return value


def _logit_bias(data: dict[str, Any]) -> dict[str, float] | None:
    value = data.get("logit_bias")
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
    ):
        raise _type_error("logit_bias", "an object of token ids to numbers", value)
    return {str(k): float(v) for k, v in value.items()}


def _has_tools(data: dict[str, Any]) -> bool:
    for name in ("tools", "functions"):
        value = data.get(name)
        if value is None or value == []:
            continue
        if not isinstance(value, list):
            raise _type_error(name, "a list", value)
        return True
    return False


def parse_chat(data: dict[str, Any], default_max_tokens: int) -> ParsedRequest:
    """Validate a `/v1/chat/completions` body.

    Args:
        data: the decoded JSON object.
        default_max_tokens: used when the request names none (the tier's cap).

    Raises:
        ApiError: 400 naming the field at fault.
    """
    model = _model(data)
    messages = _messages(data)
    max_tokens = _int(data, "max_completion_tokens", None, 1, None)
    if max_tokens is None:
        max_tokens = _int(data, "max_tokens", default_max_tokens, 1, None)
    logprobs = _bool(data, "logprobs")
    top = _int(data, "top_logprobs", 0, 0, 20) or 0
    if top and not logprobs:
        raise bad_request(
            "top_logprobs: requires logprobs to be true", param="top_logprobs", code="invalid_value"
        )
    params = _params(data, max_tokens or default_max_tokens, logprobs, top)
    stream = _bool(data, "stream")
    return ParsedRequest(
        kind="chat",
        model=model,
        messages=messages,
        prompt="",
        params=params,
        n=_int(data, "n", 1, 1, 128) or 1,
        stream=stream,
        include_usage=_stream_options(data) if stream else False,
        logit_bias=_logit_bias(data),
        tools=_has_tools(data),
        input_bytes=sum(len(m.content.encode()) + 8 for m in messages),
    )


def _params(data: dict[str, Any], max_tokens: int, logprobs: bool, top: int) -> GenerationParams:
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _type_error("seed", "an integer", seed)
    top_p = _float(data, "top_p", 1.0, 0.0, 1.0)
    if top_p == 0.0:
        raise bad_request("top_p: must be above 0", param="top_p", code="invalid_value")
    return GenerationParams.model_construct(
        max_tokens=max_tokens,
        temperature=_float(data, "temperature", 1.0, 0.0, 2.0),
        top_p=top_p,
        stop=_stop(data),
        seed=seed,
        logprobs=logprobs,
        top_logprobs=top,
    )


def parse_completion(data: dict[str, Any], default_max_tokens: int) -> ParsedRequest:
    """Validate a `/v1/completions` body (legacy text completions).

    `logprobs` is an integer k (0-5) here, as in OpenAI's completions API.
    """
    model = _model(data)
    prompt = data.get("prompt")
    if prompt is None:
        raise bad_request("prompt: required", param="prompt", code="missing_required_parameter")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise _type_error("prompt", "a string (or a list of one string)", prompt)
    k = _int(data, "logprobs", None, 0, 5)
    echo = _bool(data, "echo")
    if echo:
        raise bad_request(
            "echo: not supported by this gateway", param="echo", code="unsupported_parameter"
        )
    for name in ("suffix", "best_of"):
        if data.get(name) not in (None, 1) or (name == "suffix" and data.get(name) is not None):
            raise bad_request(
                f"{name}: not supported by this gateway", param=name, code="unsupported_parameter"
            )
    max_tokens = _int(data, "max_tokens", 16, 1, None) or 16
    params = _params(data, max_tokens, k is not None, k or 0)
    stream = _bool(data, "stream")
    return ParsedRequest(
        kind="completion",
        model=model,
        messages=[ChatMessage(role="user", content=prompt)],
        prompt=prompt,
        params=params,
        n=_int(data, "n", 1, 1, 128) or 1,
        stream=stream,
        include_usage=_stream_options(data) if stream else False,
        logit_bias=_logit_bias(data),
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


def error_event(error: ApiError) -> bytes:
    """An error sent inside a stream; the `openai` SDK raises `APIError` when it reads one."""
    return b"data: " + error.body_bytes() + b"\n\n"


DONE = b"data: [DONE]\n\n"

__all__ = [
    "DONE",
    "Answer",
    "ParsedRequest",
    "decode_json",
    "error_event",
    "new_id",
    "parse_chat",
    "parse_completion",
    "response_body",
    "stream_chunk",
    "usage_chunk",
]
