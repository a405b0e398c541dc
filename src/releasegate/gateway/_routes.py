"""The OpenAI-compatible routes, as `Route`s of the pipeline: chat, completions, models."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from releasegate.backends._base import (
    BackendError,
    ChatMessage,
    Generation,
    ModelBackend,
    StreamChunk,
)
from releasegate.gateway._authz import authorize, model_allowed
from releasegate.gateway._errors import ApiError
from releasegate.gateway._pipeline import Call, Principal, Streamed, Unary
from releasegate.gateway._protocol import (
    Answer,
    ParsedRequest,
    new_id,
    parse_chat,
    parse_completion,
    response_body,
    stream_chunk,
    usage_chunk,
)
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

    admin = False
    needs_body = True

    def __init__(self, kind: str, backend: ModelBackend, model_name: str) -> None:
        self.kind = kind
        self.name = "chat.completions" if kind == "chat" else "completions"
        self.backend = backend
        self.model_name = model_name

    def parse(self, data: dict[str, Any], principal: Principal) -> ParsedRequest:
        assert principal.tier is not None
        cap = principal.tier.max_tokens
        req = parse_chat(data, cap) if self.kind == "chat" else parse_completion(data, cap)
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
        call.audit["model"] = self.model_name
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


class ModelsRoute:
    """`GET /v1/models`: the models this key's tier may use, each with its release state
    (`releasegate`: the decision, its status, the tiers open and those withheld, and why)."""

    name = "models"
    admin = False
    needs_body = False

    def __init__(
        self,
        model_name: str,
        owned_by: str = "releasegate",
        metadata: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.model_name = model_name
        self.owned_by = owned_by
        self.created = int(time.time())
        self.metadata = metadata

    def parse(self, data: dict[str, Any], principal: Principal) -> None:
        return None

    def authorize(self, principal: Principal, parsed: None) -> None:
        return None

    def reserve_tokens(self, parsed: None) -> int:
        return 0

    def input_messages(self, parsed: None) -> Sequence[ChatMessage]:
        return ()

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
        body = {"object": "list", "data": data}
        return Unary(outputs=[], render=lambda _v: body)


__all__ = ["WITHHELD", "GenerateRoute", "ModelsRoute", "backend_error"]
