"""An in-process `ModelBackend` with the bench upstream's fixed answer: run behind the gateway,
it measures the gateway's own cost (HTTP server, pipeline, limits, audit) without the hop to an
upstream server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from releasegate.backends import ChatMessage, Generation, GenerationParams, StreamChunk

ANSWER = "Hello from the bench upstream."


class FixedBackend:
    name = "bench-model"

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Generation:
        return Generation(text=ANSWER, prompt_tokens=12, completion_tokens=7)

    async def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        yield StreamChunk(text=ANSWER, finish_reason="stop", prompt_tokens=12, completion_tokens=7)

    async def complete(self, prompt: str, params: GenerationParams) -> Generation:
        return Generation(text=ANSWER, prompt_tokens=12, completion_tokens=7)

    async def choice_logprobs(self, prompt: str, choices: Sequence[str]) -> list[float]:
        return [0.0 for _ in choices]

    async def aclose(self) -> None:
        return None
