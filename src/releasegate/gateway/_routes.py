"""The OpenAI-compatible routes' handlers: chat, completions, models."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import BaseModel

from releasegate.backends._base import (
    BackendError,
    ChatMessage,
    Generation,
    ModelBackend,
    StreamChunk,
)
from releasegate.gateway._authz import authorize, model_allowed
from releasegate.gateway._call import Call, NoInput, Principal, Streamed, Unary
from releasegate.gateway._errors import ApiError
from releasegate.gateway._openai_models import ChatCompletionRequest, CompletionRequest
from releasegate.gateway._protocol import (
    Answer,
    ParsedRequest,
    chat_request,
    completion_request,
    new_id,
    response_body,
    stream_chunk,
    usage_chunk,
)
from releasegate.gateway._state import Gateway
from releasegate.guards._base import GuardVerdict

WITHHELD = "[withheld: the output guard flagged this answer under the gateway's usage policy]"


def backend_error(exc: BackendError) -> ApiError:
    """Map a backend failure to a response: the upstream's 4xx stays a 400, anything else 502."""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 429):
        return ApiError(400, f"the model rejected the request: {exc}", code="upstream_rejected")
    return ApiError(
        502, f"the model backend failed: {exc}", type="server_error", code="backend_error"
    )


class GenerateRoute:
    """`POST /v1/chat/completions` and `POST /v1/completions`."""

    def __init__(self, kind: str, backend: ModelBackend, model_name: str) -> None:
        self.kind = kind
        self.backend = backend
        self.model_name = model_name

    def parse(self, body: BaseModel | None, call: Call) -> ParsedRequest:
        principal = call.principal
        assert principal is not None and principal.tier is not None
        if isinstance(body, ChatCompletionRequest):
            req = chat_request(body, principal.tier.max_tokens)
        else:
            assert isinstance(body, CompletionRequest)
            req = completion_request(body)
        if req.model != self.model_name:
            raise ApiError(
                404,
                f"the model {req.model!r} does not exist here; this gateway serves "
                f"{self.model_name!r} (see GET /v1/models)",
                param="model",
                code="model_not_found",
            )
        return req

    def authorize(self, principal: Principal, parsed: ParsedRequest) -> None:
        assert principal.tier is not None
        authorize(principal.tier, parsed)

    def reserve_tokens(self, parsed: ParsedRequest) -> int:
        # A token is at least one byte, so bytes bound the prompt's tokens from above.
        return parsed.input_bytes + parsed.params.max_tokens * parsed.n

    def input_messages(self, parsed: ParsedRequest) -> Sequence[ChatMessage]:
        return parsed.messages

    async def execute(self, call: Call) -> Unary | Streamed:
        req: ParsedRequest = call.parsed
        call.audit_extra["model"] = self.model_name
        call.content["prompt"] = (
            [m.model_dump() for m in req.messages] if self.kind == "chat" else req.prompt
        )
        if req.stream:
            return self._streamed(call, req)
        gens: list[Generation] = []
        try:
            for _ in range(req.n):
                if self.kind == "chat":
                    gens.append(await self.backend.chat(req.messages, req.params))
                else:
                    gens.append(await self.backend.complete(req.prompt, req.params))
        except BackendError as exc:
            raise backend_error(exc) from exc
        rid = new_id(self.kind)
        used = (gens[0].prompt_tokens if gens else 0) + sum(g.completion_tokens for g in gens)
        model = self.model_name

        def render(verdicts: list[GuardVerdict | None]) -> dict[str, Any]:
            answers = []
            for gen, verdict in zip(gens, verdicts, strict=True):
                if verdict is not None and verdict.flagged:
                    answers.append(Answer(WITHHELD, "content_filter", None))
                else:
                    answers.append(Answer(gen.text, gen.finish_reason, gen.logprobs))
            call.content["output"] = [a.text for a in answers]
            return response_body(req, rid, model, answers, gens)

        return Unary(outputs=[g.text for g in gens], render=render, used_tokens=used)

    def _streamed(self, call: Call, req: ParsedRequest) -> Streamed:
        rid = new_id(self.kind)
        created = int(time.time())
        model = self.model_name
        backend = self.backend

        async def chunks() -> AsyncIterator[StreamChunk]:
            try:
                if self.kind == "chat":
                    source = backend.stream_chat(req.messages, req.params)
                    async for chunk in source:
                        yield chunk
                else:
                    gen = await backend.complete(req.prompt, req.params)
                    yield StreamChunk(
                        text=gen.text,
                        finish_reason=gen.finish_reason,
                        prompt_tokens=gen.prompt_tokens,
                        completion_tokens=gen.completion_tokens,
                    )
            except BackendError as exc:
                raise backend_error(exc) from exc

        def frame(text: str | None, finish: str | None, first: bool) -> bytes:
            return stream_chunk(req, rid, model, created, text, finish, first=first)

        def usage(prompt: int, completion: int) -> bytes | None:
            if not req.include_usage:
                return None
            return usage_chunk(req, rid, model, created, prompt, completion)

        return Streamed(chunks=chunks(), frame=frame, usage=usage)


class ModelsRoute(NoInput):
    """`GET /v1/models`: the models this key's tier may use."""

    def __init__(self, model_name: str, owned_by: str = "releasegate") -> None:
        self.model_name = model_name
        self.owned_by = owned_by
        self.created = int(time.time())

    def parse(self, body: BaseModel | None, call: Call) -> None:
        return None

    async def execute(self, call: Call) -> Unary:
        tier = call.principal.tier if call.principal else None
        data = []
        if tier is not None and model_allowed(tier, self.model_name):
            data.append(
                {
                    "id": self.model_name,
                    "object": "model",
                    "created": self.created,
                    "owned_by": self.owned_by,
                }
            )
        body = {"object": "list", "data": data}
        return Unary(outputs=[], render=lambda _v: body)


def chat_route(gateway: Gateway) -> GenerateRoute:
    """The handler of `POST /v1/chat/completions`."""
    return GenerateRoute("chat", gateway.backend, gateway.model_name)


def completions_route(gateway: Gateway) -> GenerateRoute:
    """The handler of `POST /v1/completions`."""
    return GenerateRoute("completion", gateway.backend, gateway.model_name)


def models_route(gateway: Gateway) -> ModelsRoute:
    """The handler of `GET /v1/models`."""
    return ModelsRoute(gateway.model_name)


__all__ = [
    "WITHHELD",
    "GenerateRoute",
    "ModelsRoute",
    "backend_error",
    "chat_route",
    "completions_route",
    "models_route",
]
