"""OpenAIBackend against a real HTTP server (uvicorn on 127.0.0.1) speaking OpenAI's API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from releasegate.backends import (
    BackendError,
    ChatMessage,
    GenerationParams,
    OpenAIBackend,
    UpstreamHTTPError,
    load_backend,
)
from releasegate.errors import InputError
from releasegate.settings import Settings
from tests.helpers.openai_server import (
    FakeUpstream,
    UpstreamState,
    char_logprob,
    serve_fake_upstream,
    unused_port,
)

HELLO = [ChatMessage(role="user", content="hello there world")]


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeUpstream]:
    with serve_fake_upstream() as upstream:
        yield upstream


@pytest.fixture
def upstream(_server: FakeUpstream) -> FakeUpstream:
    fresh = UpstreamState()
    for name in fresh.__dataclass_fields__:
        setattr(_server.state, name, getattr(fresh, name))
    return _server


def backend(upstream: FakeUpstream, **kwargs: Any) -> OpenAIBackend:
    kwargs.setdefault("backoff_s", 0.01)
    return OpenAIBackend(upstream.base_url, "fake-model", **kwargs)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_chat_returns_text_usage_and_logprobs(upstream: FakeUpstream) -> None:
    async def go() -> Any:
        b = backend(upstream)
        try:
            return await b.chat(HELLO, GenerationParams(max_tokens=8, top_logprobs=2))
        finally:
            await b.aclose()

    out = run(go())
    assert out.text == "echo: hello there world"
    assert out.finish_reason == "stop"
    assert (out.prompt_tokens, out.completion_tokens) == (3, 4)
    assert out.logprobs is not None and [t.token for t in out.logprobs] == [
        "echo:",
        " hello",
        " there",
        " world",
    ]
    assert out.logprobs[0].logprob == -0.5
    assert out.logprobs[0].top == {"echo:": -0.5, "<alt>": -1.5}
    body = upstream.state.requests[-1]["body"]
    assert body["max_tokens"] == 8 and body["logprobs"] is True and body["top_logprobs"] == 2


def test_chat_length_and_sampling_parameters_pass_through(upstream: FakeUpstream) -> None:
    params = GenerationParams(max_tokens=2, temperature=0.7, top_p=0.9, stop=["x"], seed=5)

    async def go() -> Any:
        b = backend(upstream)
        try:
            return await b.chat(HELLO, params)
        finally:
            await b.aclose()

    out = run(go())
    assert out.text == "echo: hello" and out.finish_reason == "length" and out.logprobs is None
    body = upstream.state.requests[-1]["body"]
    assert body["temperature"] == 0.7 and body["top_p"] == 0.9
    assert body["stop"] == ["x"] and body["seed"] == 5 and "logprobs" not in body


def test_stream_yields_increments_then_final_usage(upstream: FakeUpstream) -> None:
    async def go() -> list[Any]:
        b = backend(upstream)
        try:
            return [c async for c in b.stream_chat(HELLO, GenerationParams(max_tokens=8))]
        finally:
            await b.aclose()

    chunks = run(go())
    assert [c.text for c in chunks[:-1]] == ["echo:", " hello", " there", " world"]
    final = chunks[-1]
    assert (final.text, final.finish_reason) == ("", "stop")
    assert (final.prompt_tokens, final.completion_tokens) == (3, 4)
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert upstream.state.requests[-1]["body"]["stream"] is True


def test_stream_error_event_raises(upstream: FakeUpstream) -> None:
    upstream.state.stream_error = True

    async def go() -> list[str]:
        b = backend(upstream)
        seen = []
        try:
            async for chunk in b.stream_chat(HELLO, GenerationParams(max_tokens=8)):
                seen.append(chunk.text)
        finally:
            await b.aclose()
        return seen

    with pytest.raises(BackendError, match="policy violation"):
        run(go())


def test_retries_after_503_then_succeeds(upstream: FakeUpstream) -> None:
    upstream.state.fail_statuses = [503, 503]

    async def go() -> Any:
        b = backend(upstream, max_retries=3)
        try:
            return await b.chat(HELLO, GenerationParams(max_tokens=8))
        finally:
            await b.aclose()

    assert run(go()).text == "echo: hello there world"
    assert len(upstream.state.requests) == 3


def test_stream_retries_before_first_byte(upstream: FakeUpstream) -> None:
    upstream.state.fail_statuses = [502]

    async def go() -> str:
        b = backend(upstream, max_retries=2)
        try:
            return "".join([c.text async for c in b.stream_chat(HELLO, GenerationParams())])
        finally:
            await b.aclose()

    assert run(go()) == "echo: hello there world"
    assert len(upstream.state.requests) == 2


def test_429_honours_retry_after(upstream: FakeUpstream) -> None:
    upstream.state.fail_statuses = [429]
    upstream.state.retry_after = "1"

    async def go() -> Any:
        b = backend(upstream, max_retries=1)
        try:
            return await b.chat(HELLO, GenerationParams(max_tokens=8))
        finally:
            await b.aclose()

    assert run(go()).text.startswith("echo:")
    first, second = upstream.state.request_times
    # Exponential backoff alone would wait ~10 ms here; the server asked for 1 s.
    assert second - first >= 0.9


def test_retries_exhausted_raise_with_status(upstream: FakeUpstream) -> None:
    upstream.state.fail_statuses = [503, 503, 503]

    async def go() -> Any:
        b = backend(upstream, max_retries=2)
        try:
            return await b.chat(HELLO, GenerationParams())
        finally:
            await b.aclose()

    with pytest.raises(UpstreamHTTPError) as caught:
        run(go())
    assert caught.value.status_code == 503
    assert "scripted failure 503" in str(caught.value)
    assert upstream.base_url in str(caught.value)
    assert len(upstream.state.requests) == 3


def test_client_errors_are_not_retried(upstream: FakeUpstream) -> None:
    upstream.state.fail_statuses = [400]

    async def go() -> Any:
        b = backend(upstream, max_retries=3)
        try:
            return await b.chat(HELLO, GenerationParams())
        finally:
            await b.aclose()

    with pytest.raises(UpstreamHTTPError) as caught:
        run(go())
    assert caught.value.status_code == 400
    assert len(upstream.state.requests) == 1


def test_read_timeout_raises_backend_error(upstream: FakeUpstream) -> None:
    upstream.state.delay_s = 1.5

    async def go() -> Any:
        b = backend(upstream, timeout_s=0.3, max_retries=2)
        try:
            return await b.chat(HELLO, GenerationParams())
        finally:
            await b.aclose()

    started = time.monotonic()
    with pytest.raises(BackendError, match=r"timed out after 0\.3 s"):
        run(go())
    assert time.monotonic() - started < 1.4  # a read timeout is not retried


def test_unreachable_url_names_it() -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"

    async def go() -> Any:
        b = OpenAIBackend(url, "m", max_retries=2, backoff_s=0.01)
        try:
            return await b.chat(HELLO, GenerationParams())
        finally:
            await b.aclose()

    with pytest.raises(BackendError, match=r"cannot reach .*127\.0\.0\.1.*after 3 attempt"):
        run(go())


def test_complete_with_logprobs(upstream: FakeUpstream) -> None:
    async def go() -> Any:
        b = backend(upstream)
        try:
            return await b.complete("abc", GenerationParams(max_tokens=2, logprobs=True))
        finally:
            await b.aclose()

    out = run(go())
    assert out.text == "!!" and out.finish_reason == "length"
    assert out.logprobs is not None
    assert [t.logprob for t in out.logprobs] == [char_logprob("!")] * 2


def test_choice_logprobs_from_echo(upstream: FakeUpstream) -> None:
    async def go() -> list[float]:
        b = backend(upstream)
        try:
            return await b.choice_logprobs("Answer:", [" A", " Bc"])
        finally:
            await b.aclose()

    scores = run(go())
    expected = [sum(char_logprob(c) for c in choice) for choice in (" A", " Bc")]
    assert scores == pytest.approx(expected)
    assert all(r["body"]["echo"] is True for r in upstream.state.requests)


def test_choice_logprobs_without_echo_support_is_a_clear_error(upstream: FakeUpstream) -> None:
    upstream.state.no_echo = True

    async def go() -> list[float]:
        b = backend(upstream)
        try:
            return await b.choice_logprobs("Q", [" A"])
        finally:
            await b.aclose()

    with pytest.raises(BackendError, match="score multiple choice by generation"):
        run(go())


def test_spec_without_model_uses_first_listed(upstream: FakeUpstream) -> None:
    async def go() -> Any:
        b = load_backend(f"openai:{upstream.base_url}", Settings())
        try:
            return await b.chat(HELLO, GenerationParams(max_tokens=8))
        finally:
            await b.aclose()

    assert run(go()).text == "echo: hello there world"
    assert [r["path"] for r in upstream.state.requests] == ["/v1/models", "/v1/chat/completions"]


def test_api_key_from_setting_then_openai_env(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = f"openai:{upstream.base_url}#fake-model"

    async def call(settings: Settings) -> None:
        b = load_backend(spec, settings)
        try:
            await b.chat(HELLO, GenerationParams(max_tokens=2))
        finally:
            await b.aclose()

    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    monkeypatch.setenv("RELEASEGATE_UPSTREAM_API_KEY", "rg-primary")
    run(call(Settings()))
    monkeypatch.delenv("RELEASEGATE_UPSTREAM_API_KEY")
    run(call(Settings()))
    monkeypatch.delenv("OPENAI_API_KEY")
    run(call(Settings()))
    assert upstream.state.auth_headers == ["Bearer rg-primary", "Bearer sk-fallback", None]


def test_bad_openai_spec_is_input_error() -> None:
    with pytest.raises(InputError, match="openai:BASE_URL#MODEL"):
        load_backend("openai:not-a-url#m", Settings())


def test_unknown_model_is_upstream_error(upstream: FakeUpstream) -> None:
    async def go() -> Any:
        b = OpenAIBackend(upstream.base_url, "nope", backoff_s=0.01)
        try:
            return await b.chat(HELLO, GenerationParams())
        finally:
            await b.aclose()

    with pytest.raises(UpstreamHTTPError, match="not found") as caught:
        run(go())
    assert caught.value.status_code == 404


def test_proxy_from_the_environment_is_honoured(
    upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy that is not listening: requests go to it (and fail) unless NO_PROXY exempts the
    # upstream, so the backend does read HTTP_PROXY / NO_PROXY (as httpx did).
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{unused_port()}")
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    async def go() -> Any:
        b = backend(upstream, max_retries=0)
        try:
            return await b.chat(HELLO, GenerationParams(max_tokens=8))
        finally:
            await b.aclose()

    with pytest.raises(BackendError, match="cannot reach"):
        run(go())
    assert upstream.state.requests == []
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert run(go()).text == "echo: hello there world"


def test_concurrent_chats_keep_at_most_max_connections_in_flight(upstream: FakeUpstream) -> None:
    """Requests run concurrently, up to the connection limit (the setting
    upstream_max_connections); the rest wait for a free connection."""
    upstream.state.delay_s = 0.3
    spec = f"openai:{upstream.base_url}#fake-model"

    async def go() -> float:
        b = load_backend(spec, Settings(upstream_max_connections=3))
        assert isinstance(b, OpenAIBackend) and b.max_connections == 3
        started = time.monotonic()
        try:
            outs = await asyncio.gather(
                *(b.chat(HELLO, GenerationParams(max_tokens=2)) for _ in range(9))
            )
        finally:
            await b.aclose()
        assert len(outs) == 9
        return time.monotonic() - started

    took = run(go())
    assert upstream.state.max_in_flight == 3
    # Three waves of three (0.9 s at least), not nine in a row (2.7 s).
    assert 0.85 <= took < 2.5


def test_max_connections_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        OpenAIBackend("http://127.0.0.1:1/v1", "m", max_connections=0)
