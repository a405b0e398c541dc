"""`echo:`: a deterministic backend with no model, to try the gateway, run the docs and test.

It answers `echo: <the last message>`, one word per token (each with logprob -0.5), so every
answer and token count can be predicted: `releasegate serve --dev --model echo:` starts in about
a second and answers any OpenAI client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from releasegate.backends._base import (
    BackendError,
    ChatMessage,
    Generation,
    GenerationParams,
    StreamChunk,
    TokenLogprob,
)

DEFAULT_NAME = "echo"


def _tokens(text: str, limit: int) -> tuple[list[str], bool]:
    words = text.split(" ")
    tokens = [w if i == 0 else " " + w for i, w in enumerate(words)]
    if len(tokens) > limit:
        return tokens[:limit], True
    return tokens, False


class EchoBackend:
    """A deterministic `ModelBackend`.

    Args:
        name: the model id it serves (`echo:NAME` sets it; default `echo`).
        delay_s: seconds each answer waits before it starts (to try timeouts and load).
        token_delay_s: seconds between streamed tokens.

    Attributes:
        fail: when True every call raises `BackendError` (to try fail-closed behaviour).
        calls: how many answers it was asked for.
    """

    def __init__(
        self, name: str = DEFAULT_NAME, *, delay_s: float = 0.0, token_delay_s: float = 0.0
    ) -> None:
        self._name = name
        self.delay_s = delay_s
        self.token_delay_s = token_delay_s
        self.fail = False
        self.calls = 0

    @classmethod
    def from_spec(cls, spec: str) -> EchoBackend:
        """`echo:` or `echo:NAME`."""
        _, _, name = spec.partition(":")
        return cls(name or DEFAULT_NAME)

    @property
    def name(self) -> str:
        return self._name

    def _answer(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Generation:
        self.calls += 1
        if self.fail:
            raise BackendError("echo backend told to fail")
        tokens, cut = _tokens("echo: " + messages[-1].content, params.max_tokens)
        logprobs = None
        if params.logprobs:
            alternatives = {f"alt{k}": -1.0 - k for k in range(params.top_logprobs - 1)}
            logprobs = [
                TokenLogprob(
                    token=t,
                    logprob=-0.5,
                    top={t: -0.5, **alternatives} if params.top_logprobs else {},
                )
                for t in tokens
            ]
        return Generation(
            text="".join(tokens),
            finish_reason="length" if cut else "stop",
            prompt_tokens=sum(len(m.content.split(" ")) for m in messages),
            completion_tokens=len(tokens),
            logprobs=logprobs,
        )

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Generation:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self._answer(messages, params)

    async def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        gen = self._answer(messages, params)
        tokens, _ = _tokens(gen.text, params.max_tokens)
        for i, token in enumerate(tokens):
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            last = i == len(tokens) - 1
            yield StreamChunk(
                text=token,
                finish_reason=gen.finish_reason if last else None,
                prompt_tokens=gen.prompt_tokens if last else None,
                completion_tokens=gen.completion_tokens if last else None,
            )

    async def complete(self, prompt: str, params: GenerationParams) -> Generation:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self._answer([ChatMessage(role="user", content=prompt)], params)

    async def choice_logprobs(self, prompt: str, choices: Sequence[str]) -> list[float]:
        """Shorter choices score higher (-len(choice)): deterministic, not meaningful."""
        return [-float(len(c)) for c in choices]

    async def aclose(self) -> None:
        return None


__all__ = ["EchoBackend"]
