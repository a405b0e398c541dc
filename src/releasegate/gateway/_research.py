"""Research endpoints for vetted researchers: hidden states, the logit lens and steering.

The alternative to open weights for interpretability research (Seger et al. 2023 §4; Shevlane
2022, "Structured access"): researchers read and nudge the model's internals through the
gateway, which keeps the weights, meters what leaves and can cut a key off. Each endpoint is a
`Route` of the one pipeline, so it is authenticated, authorized (tier capability `research`,
403 without it), rate limited, input guarded and audited like chat:

    parse (400) → authorize: `research` (403), local backend (400), size caps (400)
    → rpm and token quota (429) → input guards on the text → extraction budget (429)
    → the model → output guards (steering's text) → audit

No endpoint returns parameters. What does leave is metered in floats: each key may receive at
most its tier's `extraction_budget` floats per day (activations, or lens probabilities), counted
in the rate limiter's storage (memory, or Redis for a fleet) exactly like a token quota: the
request's exact float count is reserved before the model runs and refused whole (429, saying
how many floats remain) if it would cross the budget. The budget is checked after the input
guards, so a refused request never spends it, and given back if the model fails. Responses are
also capped per request in layers, tokens and layers × tokens × dimensions (settings
`research_max_*`, 400 naming the cap).
"""

from __future__ import annotations

import base64
import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from releasegate.backends._base import (
    BackendError,
    ChatMessage,
    GenerationParams,
    ModelBackend,
    ResearchBackend,
)
from releasegate.errors import InputError
from releasegate.gateway._authz import model_allowed
from releasegate.gateway._budget import ExtractionBudget
from releasegate.gateway._call import Call, Principal, Unary
from releasegate.gateway._errors import ApiError, bad_request, forbidden
from releasegate.gateway._research_models import (
    HiddenStatesRequest,
    LogitLensRequest,
    ResearchRequest,
    SteerRequest,
)
from releasegate.gateway._routes import WITHHELD, backend_error
from releasegate.gateway._state import Gateway
from releasegate.guards._base import GuardVerdict
from releasegate.settings import Settings


@dataclass(frozen=True, slots=True)
class ResearchCaps:
    """Per-request caps of the research routes (settings `research_max_*`)."""

    max_layers: int
    max_tokens: int
    max_floats: int
    max_top_k: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ResearchCaps:
        return cls(
            max_layers=settings.research_max_layers,
            max_tokens=settings.research_max_tokens,
            max_floats=settings.research_max_floats,
            max_top_k=settings.research_max_top_k,
        )


_Req = TypeVar("_Req", bound=ResearchRequest)


@dataclass(slots=True)
class Sized(Generic[_Req]):
    """A parsed research request and its size, filled in by `authorize`."""

    req: _Req
    ids: list[int]
    layers: list[int]
    floats: int = 0
    max_tokens: int = 0


def _cap_error(message: str, param: str | None) -> ApiError:
    return bad_request(message, param=param, code="research_cap_exceeded")


class _ResearchRoute(ABC, Generic[_Req]):
    """What the three research routes share: parsing, the capability, caps and the budget."""

    model_type: type[_Req]

    def __init__(
        self, backend: ModelBackend, model_name: str, caps: ResearchCaps, budget: ExtractionBudget
    ) -> None:
        self.backend: ResearchBackend | None = (
            backend if isinstance(backend, ResearchBackend) else None
        )
        self.model_name = model_name
        self.caps = caps
        self.budget = budget

    # -- pipeline steps -----------------------------------------------------------------------

    def parse(self, body: BaseModel | None, call: Call) -> Sized[_Req]:
        assert isinstance(body, self.model_type)
        req = body
        model = req.model
        if model != self.model_name:
            raise ApiError(
                404,
                f"the model {model!r} does not exist here; this gateway serves "
                f"{self.model_name!r} (see GET /v1/models)",
                param="model",
                code="model_not_found",
            )
        return Sized(req=req, ids=[], layers=[])

    def authorize(self, principal: Principal, parsed: Sized[_Req]) -> None:
        tier = principal.tier
        assert tier is not None  # the row requires a key (with the tier capability research)
        if not model_allowed(tier, self.model_name):
            raise forbidden(
                f"model {self.model_name!r} is not available to tier {tier.name!r}", param="model"
            )
        if self.backend is None:
            # 400 as for any feature a model does not support (a client's request, not a
            # server failure); the message names the served model, never the backend spec,
            # which would disclose the upstream's URL.
            raise ApiError(
                400,
                f"research endpoints need a local backend (bundled: or hf:); the model "
                f"{self.model_name!r} is served from an API that exposes no model internals",
                type="invalid_request_error",
                code="research_needs_local_backend",
            )
        self.size(principal, parsed, self.backend)

    @abstractmethod
    def size(self, principal: Principal, parsed: Sized[_Req], backend: ResearchBackend) -> None:
        """Check the request against the caps and fill in its size (tokens, layers, floats)."""

    @abstractmethod
    async def execute(self, call: Call) -> Unary:
        """Spend the extraction budget, run the model, render the response."""

    def reserve_tokens(self, parsed: Sized[_Req]) -> int:
        return len(parsed.ids) + parsed.max_tokens

    @abstractmethod
    def input_messages(self, parsed: Sized[_Req]) -> Sequence[ChatMessage]:
        """The texts the input guards judge."""

    # -- helpers ------------------------------------------------------------------------------

    def _layers(self, requested: Sequence[int], backend: ResearchBackend) -> list[int]:
        """Resolve negative indices, refuse out-of-range ones, drop repeats (order kept)."""
        count = backend.num_layers
        out: list[int] = []
        for layer in requested:
            index = layer + count + 1 if layer < 0 else layer
            if not 0 <= index <= count:
                raise bad_request(
                    f"layers: {layer} is out of range; the model has layers 0..{count} "
                    f"(or -{count + 1}..-1)",
                    param="layers",
                )
            if index not in out:
                out.append(index)
        cap = self.caps.max_layers
        if len(out) > cap:
            raise _cap_error(
                f"layers: {len(out)} layers requested; this gateway returns at most {cap} per "
                "request (setting research_max_layers)",
                "layers",
            )
        return out

    def _text(self, text: str, backend: ResearchBackend) -> list[int]:
        ids = backend.text_ids(text)
        if not ids:
            raise bad_request("input: the text has no tokens", param="input")
        cap = self.caps.max_tokens
        if len(ids) > cap:
            raise _cap_error(
                f"input: {len(ids)} tokens; this gateway reads at most {cap} tokens per research "
                "request (setting research_max_tokens)",
                "input",
            )
        return ids

    def _floats(self, layers: int, tokens: int, width: int, what: str) -> int:
        floats = layers * tokens * width
        cap = self.caps.max_floats
        if floats > cap:
            raise _cap_error(
                f"the response would hold {layers} layers × {tokens} tokens × {width} {what} = "
                f"{floats:,} floats; this gateway returns at most {cap:,} per request (setting "
                "research_max_floats): ask for fewer layers, a shorter input or pooling",
                None,
            )
        return floats

    async def _spend(self, call: Call, floats: int) -> int | None:
        principal = call.principal
        assert principal is not None and principal.tier is not None
        return await self.budget.spend(principal.id, principal.tier.extraction_budget, floats)

    async def _refund(self, call: Call, floats: int) -> None:
        principal = call.principal
        assert principal is not None and principal.tier is not None
        await self.budget.refund(principal.id, principal.tier.extraction_budget, floats)

    def _usage(
        self, prompt: int, floats: int, remaining: int | None, completion: int = 0
    ) -> dict[str, int | None]:
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "floats": floats,
            "extraction_budget_remaining": remaining,
        }


def _model_failure(exc: Exception) -> ApiError:
    if isinstance(exc, InputError):
        return bad_request(str(exc))
    assert isinstance(exc, BackendError)
    return backend_error(exc)


class HiddenStatesRoute(_ResearchRoute[HiddenStatesRequest]):
    """`POST /v1/research/hidden_states`."""

    model_type = HiddenStatesRequest

    def input_messages(self, parsed: Sized[HiddenStatesRequest]) -> Sequence[ChatMessage]:
        return [ChatMessage.model_construct(role="user", content=parsed.req.input)]

    def size(
        self, principal: Principal, parsed: Sized[HiddenStatesRequest], backend: ResearchBackend
    ) -> None:
        req = parsed.req
        parsed.layers = self._layers(req.layers, backend)
        parsed.ids = self._text(req.input, backend)
        rows = len(parsed.ids) if req.pool == "none" else 1
        parsed.floats = self._floats(len(parsed.layers), rows, backend.hidden_size, "dimensions")

    async def execute(self, call: Call) -> Unary:
        sized: Sized[HiddenStatesRequest] = call.parsed
        req = sized.req
        assert self.backend is not None
        remaining = await self._spend(call, sized.floats)
        try:
            states = await self.backend.hidden_states(req.input, sized.layers, req.pool)
        except (InputError, BackendError) as exc:
            await self._refund(call, sized.floats)
            raise _model_failure(exc) from exc
        layers = []
        for layer in sized.layers:
            array = states.layers[layer]
            data: Any = (
                base64.b64encode(array.astype("<f4").tobytes()).decode("ascii")
                if req.encoding_format == "base64"
                else array.tolist()
            )
            layers.append({"layer": layer, "shape": list(array.shape), "data": data})
        body = {
            "object": "research.hidden_states",
            "model": self.model_name,
            "tokens": states.tokens,
            "pool": req.pool,
            "encoding_format": req.encoding_format,
            "layers": layers,
            "usage": self._usage(len(sized.ids), sized.floats, remaining),
        }
        call.audit_extra.update(
            model=self.model_name,
            layers=sized.layers,
            pool=req.pool,
            input_tokens=len(sized.ids),
            floats=sized.floats,
        )
        call.content["prompt"] = req.input
        return Unary(outputs=[], render=lambda _v: body, used_tokens=len(sized.ids))


class LogitLensRoute(_ResearchRoute[LogitLensRequest]):
    """`POST /v1/research/logit_lens`."""

    model_type = LogitLensRequest

    def input_messages(self, parsed: Sized[LogitLensRequest]) -> Sequence[ChatMessage]:
        return [ChatMessage.model_construct(role="user", content=parsed.req.input)]

    def size(
        self, principal: Principal, parsed: Sized[LogitLensRequest], backend: ResearchBackend
    ) -> None:
        req = parsed.req
        cap = self.caps.max_top_k
        if req.top_k > cap:
            raise _cap_error(
                f"top_k: {req.top_k}; this gateway returns at most {cap} predictions per "
                "position (setting research_max_top_k)",
                "top_k",
            )
        parsed.layers = self._layers(req.layers, backend)
        parsed.ids = self._text(req.input, backend)
        # Each prediction returns one probability (a float); its token id is not counted.
        parsed.floats = self._floats(len(parsed.layers), len(parsed.ids), req.top_k, "top_k")

    async def execute(self, call: Call) -> Unary:
        sized: Sized[LogitLensRequest] = call.parsed
        req = sized.req
        assert self.backend is not None
        remaining = await self._spend(call, sized.floats)
        try:
            lens = await self.backend.logit_lens(req.input, sized.layers, req.top_k)
        except (InputError, BackendError) as exc:
            await self._refund(call, sized.floats)
            raise _model_failure(exc) from exc
        layers = [
            {
                "layer": layer,
                "positions": [
                    [{"token": p.token, "prob": p.prob} for p in position]
                    for position in lens.layers[layer]
                ],
            }
            for layer in sized.layers
        ]
        body = {
            "object": "research.logit_lens",
            "model": self.model_name,
            "tokens": lens.tokens,
            "top_k": req.top_k,
            "layers": layers,
            "usage": self._usage(len(sized.ids), sized.floats, remaining),
        }
        call.audit_extra.update(
            model=self.model_name,
            layers=sized.layers,
            top_k=req.top_k,
            input_tokens=len(sized.ids),
            floats=sized.floats,
        )
        call.content["prompt"] = req.input
        return Unary(outputs=[], render=lambda _v: body, used_tokens=len(sized.ids))


class SteerRoute(_ResearchRoute[SteerRequest]):
    """`POST /v1/research/steer`: returns text only (no floats leave; the budget is untouched)."""

    model_type = SteerRequest

    def input_messages(self, parsed: Sized[SteerRequest]) -> Sequence[ChatMessage]:
        return parsed.req.chat_messages()

    def size(
        self, principal: Principal, parsed: Sized[SteerRequest], backend: ResearchBackend
    ) -> None:
        req = parsed.req
        tier = principal.tier
        assert tier is not None
        parsed.layers = self._layers([req.layer], backend)
        if len(req.vector) != backend.hidden_size:
            raise bad_request(
                f"vector: {len(req.vector)} values; the model's hidden size is "
                f"{backend.hidden_size}",
                param="vector",
            )
        max_tokens = req.max_tokens if req.max_tokens is not None else tier.max_tokens
        if max_tokens > tier.max_tokens:
            raise forbidden(
                f"max_tokens {max_tokens} exceeds tier {tier.name!r}'s cap of {tier.max_tokens}",
                param="max_tokens",
            )
        if not tier.temperature_min <= req.temperature <= tier.temperature_max:
            raise forbidden(
                f"temperature {req.temperature} is outside tier {tier.name!r}'s range "
                f"[{tier.temperature_min}, {tier.temperature_max}]",
                param="temperature",
            )
        parsed.max_tokens = max_tokens
        parsed.ids = backend.chat_prompt_ids(req.chat_messages())

    async def execute(self, call: Call) -> Unary:
        sized: Sized[SteerRequest] = call.parsed
        req = sized.req
        assert self.backend is not None
        remaining = await self._spend(call, 0)
        params = GenerationParams(
            max_tokens=sized.max_tokens, temperature=req.temperature, seed=req.seed
        )
        try:
            gen = await self.backend.steer_generate(
                req.chat_messages(), sized.layers[0], req.vector, req.scale, params
            )
        except (InputError, BackendError) as exc:
            raise _model_failure(exc) from exc
        vector_hash = hashlib.sha256(repr(req.vector).encode()).hexdigest()
        call.audit_extra.update(
            model=self.model_name,
            layer=sized.layers[0],
            scale=req.scale,
            vector_sha256=vector_hash,
            vector_norm=round(math.sqrt(sum(v * v for v in req.vector)), 6),
        )
        call.content["prompt"] = [m.model_dump() for m in req.messages]
        used = gen.prompt_tokens + gen.completion_tokens
        usage = self._usage(gen.prompt_tokens, 0, remaining, gen.completion_tokens)

        def render(verdicts: list[GuardVerdict | None]) -> dict[str, Any]:
            flagged = verdicts[0] is not None and verdicts[0].flagged
            text = WITHHELD if flagged else gen.text
            call.content["output"] = text
            return {
                "object": "research.steer",
                "model": self.model_name,
                "layer": sized.layers[0],
                "scale": req.scale,
                "text": text,
                "finish_reason": "content_filter" if flagged else gen.finish_reason,
                "usage": usage,
            }

        return Unary(outputs=[gen.text], render=render, used_tokens=used)


def _caps_and_budget(gateway: Gateway) -> tuple[ModelBackend, str, ResearchCaps, ExtractionBudget]:
    caps = ResearchCaps.from_settings(gateway.settings)
    return gateway.backend, gateway.model_name, caps, gateway.budget


def hidden_states_route(gateway: Gateway) -> HiddenStatesRoute:
    """The handler of `POST /v1/research/hidden_states`."""
    return HiddenStatesRoute(*_caps_and_budget(gateway))


def logit_lens_route(gateway: Gateway) -> LogitLensRoute:
    """The handler of `POST /v1/research/logit_lens`."""
    return LogitLensRoute(*_caps_and_budget(gateway))


def steer_route(gateway: Gateway) -> SteerRoute:
    """The handler of `POST /v1/research/steer`."""
    return SteerRoute(*_caps_and_budget(gateway))


__all__ = [
    "HiddenStatesRoute",
    "LogitLensRoute",
    "ResearchCaps",
    "SteerRoute",
    "hidden_states_route",
    "logit_lens_route",
    "steer_route",
]
