"""The OpenAI-compatible routes' handlers: chat, completions, models."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
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
from releasegate.gateway._finetuned import FineTunedModels
from releasegate.gateway._gate import model_metadata
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

log = logging.getLogger("releasegate.gateway")

WITHHELD = "[withheld: the output guard flagged this answer under the gateway's usage policy]"


def backend_error(exc: BackendError) -> ApiError:
    """Map a backend failure to a response: the upstream's 4xx stays a 400, anything else 502.

    The client sees the upstream's own message at most, never the backend's exception text:
    that names the upstream URL, host and port, or a local model path, which the gateway does
    not disclose (the served model name stands for all of them). The log keeps the details.
    """
    log.warning("model backend failed: %s", exc)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 429):
        upstream = getattr(exc, "upstream_message", None)
        detail = f": {upstream}" if isinstance(upstream, str) and upstream else ""
        return ApiError(400, f"the model rejected the request{detail}", code="upstream_rejected")
    return ApiError(
        502,
        f"the model backend failed ({type(exc).__name__}); the gateway's log has the details",
        type="server_error",
        code="backend_error",
    )


class GenerateRoute:
    """`POST /v1/chat/completions` and `POST /v1/completions`."""

    def __init__(
        self,
        kind: str,
        backend: ModelBackend,
        model_name: str,
        finetuned: FineTunedModels | None = None,
    ) -> None:
        self.kind = kind
        self.backend = backend
        self.model_name = model_name
        self.finetuned = finetuned

    def parse(self, body: BaseModel | None, call: Call) -> ParsedRequest:
        principal = call.principal
        assert principal is not None and principal.tier is not None
        if isinstance(body, ChatCompletionRequest):
            req = chat_request(body, principal.tier.max_tokens)
        else:
            assert isinstance(body, CompletionRequest)
            req = completion_request(body)
        if req.model != self.model_name and not self._fine_tuned(req.model, call):
            raise ApiError(
                404,
                f"the model {req.model!r} does not exist here; this gateway serves "
                f"{self.model_name!r} (see GET /v1/models)",
                param="model",
                code="model_not_found",
            )
        return req

    def _fine_tuned(self, name: str, call: Call) -> bool:
        """`name` is a fine-tuned model of the caller's owner: its spec is kept for execute."""
        if self.finetuned is None or call.principal is None:
            return False
        spec = self.finetuned.spec_for(name, call.principal.owner)
        if spec is None:
            return False
        call.audit_extra["fine_tuned_spec"] = spec
        return True

    def authorize(self, principal: Principal, parsed: ParsedRequest) -> None:
        assert principal.tier is not None
        if parsed.model != self.model_name:  # a fine-tuned model: its base's tier rules apply
            parsed = dataclasses.replace(parsed, model=self.model_name)
        authorize(principal.tier, parsed)

    async def _backend(self, call: Call) -> ModelBackend:
        spec = call.audit_extra.get("fine_tuned_spec")
        if spec is None:
            return self.backend
        assert self.finetuned is not None and isinstance(spec, str)
        try:
            return await self.finetuned.backend(spec)
        except Exception as exc:  # a missing adapter, a broken file: never the base instead
            log.warning("could not load fine-tuned model %s: %s", spec, exc)
            raise ApiError(
                502,
                "the fine-tuned model could not be loaded; the gateway's log has the details",
                type="server_error",
                code="backend_error",
            ) from exc

    def reserve_tokens(self, parsed: ParsedRequest) -> int:
        # A token is at least one byte, so bytes bound the prompt's tokens from above.
        return parsed.input_bytes + parsed.params.max_tokens * parsed.n

    def input_messages(self, parsed: ParsedRequest) -> Sequence[ChatMessage]:
        return parsed.messages

    async def execute(self, call: Call) -> Unary | Streamed:
        req: ParsedRequest = call.parsed
        backend = await self._backend(call)
        call.audit_extra.pop("fine_tuned_spec", None)  # a local path: not for the audit record
        call.audit_extra["model"] = req.model
        call.content["prompt"] = (
            [m.model_dump() for m in req.messages] if self.kind == "chat" else req.prompt
        )
        if req.stream:
            return self._streamed(call, req, backend)
        gens: list[Generation] = []
        try:
            for _ in range(req.n):
                if self.kind == "chat":
                    gens.append(await backend.chat(req.messages, req.params))
                else:
                    gens.append(await backend.complete(req.prompt, req.params))
        except BackendError as exc:
            raise backend_error(exc) from exc
        rid = new_id(self.kind)
        used = (gens[0].prompt_tokens if gens else 0) + sum(g.completion_tokens for g in gens)
        model = req.model

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

    def _streamed(self, call: Call, req: ParsedRequest, backend: ModelBackend) -> Streamed:
        rid = new_id(self.kind)
        created = int(time.time())
        model = req.model

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
    """`GET /v1/models`: the models this key's tier may use, each with its release state
    (`releasegate`: the decision, its status, the tiers open and those withheld, and why)."""

    def __init__(
        self,
        model_name: str,
        owned_by: str = "releasegate",
        metadata: Callable[[], dict[str, Any]] | None = None,
        finetuned: FineTunedModels | None = None,
    ) -> None:
        self.model_name = model_name
        self.owned_by = owned_by
        self.created = int(time.time())
        self.metadata = metadata
        self.finetuned = finetuned

    def parse(self, body: BaseModel | None, call: Call) -> None:
        return None

    async def execute(self, call: Call) -> Unary:
        tier = call.principal.tier if call.principal else None
        data = []
        if tier is not None and model_allowed(tier, self.model_name):
            entry: dict[str, Any] = {
                "id": self.model_name,
                "object": "model",
                "created": self.created,
                "owned_by": self.owned_by,
            }
            if self.metadata is not None:
                entry["releasegate"] = self.metadata()
            data.append(entry)
            if self.finetuned is not None and call.principal is not None:
                data += await asyncio.to_thread(self.finetuned.listing, call.principal.owner)
        body = {"object": "list", "data": data}
        return Unary(outputs=[], render=lambda _v: body)


def chat_route(gateway: Gateway) -> GenerateRoute:
    """The handler of `POST /v1/chat/completions`."""
    return GenerateRoute("chat", gateway.backend, gateway.model_name, gateway.finetuned)


def completions_route(gateway: Gateway) -> GenerateRoute:
    """The handler of `POST /v1/completions`."""
    return GenerateRoute("completion", gateway.backend, gateway.model_name, gateway.finetuned)


def models_route(gateway: Gateway) -> ModelsRoute:
    """The handler of `GET /v1/models`."""
    gate = gateway.gate
    if gate is None:
        return ModelsRoute(gateway.model_name, finetuned=gateway.finetuned)
    return ModelsRoute(
        gateway.model_name,
        metadata=lambda: model_metadata(gate, dev=gateway.dev, fingerprint=gateway.fingerprint),
        finetuned=gateway.finetuned,
    )


__all__ = [
    "WITHHELD",
    "GenerateRoute",
    "ModelsRoute",
    "backend_error",
    "chat_route",
    "completions_route",
    "models_route",
]
