"""`releasegate/<spec>`: an Inspect `ModelAPI` over releasegate's `ModelBackend`.

One code path for models: every suite runs through Inspect, and Inspect reaches every model
through this provider — `releasegate/bundled:smollm2`, `releasegate/hf:/path`,
`releasegate/openai:http://host/v1#name` — so the gateway, the assessment and `inspect eval`
share one backend implementation (see docs/design/0007-assess-model-path.md).

Local backends that can decode several conversations at once (`generate_batch`) get the
concurrent requests of Inspect's sample loop gathered into batches: on a 2-core CPU a batch of
8 costs little more per step than one sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    Logprob,
    Logprobs,
    ModelAPI,
    ModelOutput,
    ModelUsage,
    TopLogprob,
    modelapi,
)
from inspect_ai.tool import ToolChoice, ToolInfo

from releasegate._util.lending import lend
from releasegate.backends import ChatMessage as RGMessage
from releasegate.backends import Generation, GenerationParams, ModelBackend, load_backend
from releasegate.settings import Settings

PROVIDER = "releasegate"
# Largest batch gathered for a local backend; Inspect runs this many samples at once.
_MAX_BATCH = 32
# How long the first request of a batch waits for others: Inspect starts its samples within a
# few event-loop turns, and one forward pass on a CPU costs far more than this.
_GATHER_S = 0.005

# Backends lent by the caller (the assessment loads a local model once and runs many tasks on
# it); `inspect eval releasegate/...` from the shell finds none and loads its own.
_lent: dict[str, ModelBackend] = {}


@contextlib.contextmanager
def lend_backend(spec: str, backend: ModelBackend) -> Iterator[None]:
    """Let Inspect models named `releasegate/<spec>` use `backend` while the block runs."""
    with lend(_lent, spec, backend):
        yield


def params_from_config(config: GenerateConfig) -> GenerationParams:
    """The backend's sampling parameters for an Inspect `GenerateConfig`."""
    top = int(config.top_logprobs or 0)
    return GenerationParams(
        max_tokens=int(config.max_tokens or 256),
        temperature=float(config.temperature if config.temperature is not None else 0.0),
        top_p=float(config.top_p if config.top_p is not None else 1.0),
        stop=list(config.stop_seqs or []),
        seed=config.seed,
        logprobs=bool(config.logprobs) or top > 0,
        top_logprobs=min(top, 20),
    )


def to_backend_messages(messages: Sequence[ChatMessage]) -> list[RGMessage]:
    """Inspect chat messages as backend messages (tool messages are passed as user text)."""
    out = []
    for message in messages:
        role = message.role if message.role in ("system", "user", "assistant") else "user"
        out.append(RGMessage(role=role, content=message.text))
    return out


def to_output(model: str, generation: Generation) -> ModelOutput:
    logprobs = None
    if generation.logprobs is not None:
        logprobs = Logprobs(
            content=[
                Logprob(
                    token=lp.token,
                    logprob=lp.logprob,
                    top_logprobs=[TopLogprob(token=t, logprob=v) for t, v in lp.top.items()],
                )
                for lp in generation.logprobs
            ]
        )
    choice = ChatCompletionChoice(
        message=ChatMessageAssistant(content=generation.text, model=model, source="generate"),
        stop_reason="max_tokens" if generation.finish_reason == "length" else "stop",
        logprobs=logprobs,
    )
    usage = ModelUsage(
        input_tokens=generation.prompt_tokens,
        output_tokens=generation.completion_tokens,
        total_tokens=generation.prompt_tokens + generation.completion_tokens,
    )
    return ModelOutput(model=model, choices=[choice], usage=usage)


@dataclass
class _Pending:
    messages: list[RGMessage]
    future: asyncio.Future[Generation] = field(repr=False)


class _Batcher:
    """Gathers concurrent requests with equal parameters into one `generate_batch` call."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._queues: dict[str, tuple[GenerationParams, list[_Pending]]] = {}
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def generate(self, messages: list[RGMessage], params: GenerationParams) -> Generation:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # Inspect may reuse a model across eval() calls (new loops)
            self._loop, self._queues, self._lock = loop, {}, asyncio.Lock()
        key = params.model_dump_json()
        pending = _Pending(messages, loop.create_future())
        self._queues.setdefault(key, (params, []))[1].append(pending)
        async with self._lock:  # one batch on the model at a time; the rest keep gathering
            if not pending.future.done():
                await asyncio.sleep(_GATHER_S)
                _, queue = self._queues[key]
                batch, self._queues[key] = queue[:_MAX_BATCH], (params, queue[_MAX_BATCH:])
                try:
                    outs = await self._backend.generate_batch([p.messages for p in batch], params)
                except BaseException as exc:
                    for item in batch:
                        if not item.future.done():
                            item.future.set_exception(exc)
                    if pending not in batch:
                        raise
                else:
                    for item, out in zip(batch, outs, strict=True):
                        item.future.set_result(out)
        return await pending.future


@modelapi(name=PROVIDER)
class ReleasegateModelAPI(ModelAPI):
    """Inspect provider `releasegate/<backend spec>` (any spec `load_backend` accepts)."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),
        **model_args: Any,
    ) -> None:
        super().__init__(model_name=model_name, base_url=base_url, api_key=api_key, config=config)
        lent = _lent.get(model_name)
        self._owned = lent is None
        # Inspect builds providers from a model name: an edge, like the CLI, so Settings here.
        self.backend: ModelBackend = (
            lent if lent is not None else load_backend(model_name, Settings())
        )
        self._batcher = _Batcher(self.backend) if hasattr(self.backend, "generate_batch") else None

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        messages = to_backend_messages(input)
        params = params_from_config(config)
        if self._batcher is not None:
            generation = await self._batcher.generate(messages, params)
        else:
            generation = await self.backend.chat(messages, params)
        return to_output(self.model_name, generation)

    def max_connections(self) -> int:
        # Local models queue on one lock anyway; this many requests in flight fill one batch.
        if self._batcher is not None:
            return _MAX_BATCH
        # A remote backend says how many requests it keeps in flight (the setting
        # upstream_max_connections, `assess --max-connections`).
        limit = getattr(self.backend, "max_connections", None)
        return limit if isinstance(limit, int) and limit > 0 else 8

    async def aclose(self) -> None:
        if self._owned:
            await self.backend.aclose()


__all__ = [
    "PROVIDER",
    "ReleasegateModelAPI",
    "lend_backend",
    "params_from_config",
    "to_backend_messages",
    "to_output",
]
