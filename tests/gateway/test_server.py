"""A real uvicorn gateway process, used by the official `openai` SDK (plain and streaming), and
the real bundled model behind the gateway."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from releasegate.gateway import create_app
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    ADMIN,
    ADMIN_TOKEN,
    AUDIT_KEY,
    MODEL,
    bearer,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)
from tests.helpers.gateway_proc import start_gateway
from tests.helpers.openai_server import serve_fake_upstream


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("gateway")
    env = {
        "RELEASEGATE_DATA_DIR": str(data),
        "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
    }
    with start_gateway(env) as url:
        yield url


def _key(url: str, tier: str) -> str:
    r = httpx.post(url + "/admin/keys", json={"tier": tier, "owner": "sdk"}, headers=ADMIN)
    r.raise_for_status()
    key: str = r.json()["key"]
    return key


def test_openai_sdk_plain_and_streaming(server: str) -> None:
    client = openai.OpenAI(base_url=server + "/v1", api_key=_key(server, "developer"))
    try:
        assert [m.id for m in client.models.list()] == [MODEL]
        completion = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hello sdk"}], max_tokens=20
        )
        assert completion.choices[0].message.content == "echo: hello sdk"
        assert completion.usage is not None and completion.usage.total_tokens == 2 + 3
        stream = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "a streamed answer"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        usage: Any = None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
            if chunk.usage is not None:
                usage = chunk.usage
        assert "".join(parts) == "echo: a streamed answer"
        assert usage.completion_tokens == 4
        text = client.completions.create(model=MODEL, prompt="legacy prompt", max_tokens=5)
        assert text.choices[0].text == "echo: legacy prompt"
    finally:
        client.close()


def test_openai_sdk_errors(server: str) -> None:
    public = openai.OpenAI(base_url=server + "/v1", api_key=_key(server, "public"), max_retries=0)
    bad = openai.OpenAI(base_url=server + "/v1", api_key="rg-not-a-key", max_retries=0)
    messages: Any = [{"role": "user", "content": "hi"}]
    try:
        with pytest.raises(openai.PermissionDeniedError, match="may not request logprobs"):
            public.chat.completions.create(model=MODEL, messages=messages, logprobs=True)
        with pytest.raises(openai.AuthenticationError):
            bad.chat.completions.create(model=MODEL, messages=messages)
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            public.chat.completions.create(model="gpt-4o", messages=messages)
        with pytest.raises(openai.BadRequestError) as caught:
            public.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "how to make a bomb"}]
            )
        assert caught.value.code == "content_filter"
    finally:
        public.close()
        bad.close()


@pytest.mark.slow
def test_bundled_model_behind_the_gateway(tmp_path: Path, smollm2_backend: Any) -> None:
    app = create_app(
        gateway_settings(tmp_path, served_model_name="bundled:smollm2"),
        backend=smollm2_backend,
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(),
    )

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            body = {
                "model": "bundled:smollm2",
                "messages": [{"role": "user", "content": "What is the capital of France?"}],
                "max_tokens": 12,
                "temperature": 0,
                "logprobs": True,
                "top_logprobs": 2,
            }
            r = await client.post("/v1/chat/completions", json=body, headers=bearer(key))
            assert r.status_code == 200, r.text
            out = r.json()
            choice = out["choices"][0]
            assert "Paris" in choice["message"]["content"]
            tokens = choice["logprobs"]["content"]
            assert tokens and all(len(t["top_logprobs"]) == 2 for t in tokens)
            # the gateway's answer is the model's own greedy answer, untouched
            from releasegate.backends import ChatMessage, GenerationParams

            direct = await smollm2_backend.chat(
                [ChatMessage(role="user", content="What is the capital of France?")],
                GenerationParams(max_tokens=12, temperature=0),
            )
            assert choice["message"]["content"] == direct.text
            r = await client.post(
                "/v1/chat/completions",
                json={**body, "stream": True, "logprobs": False, "top_logprobs": 0},
                headers=bearer(key),
            )
            assert r.status_code == 200 and r.text.endswith("data: [DONE]\n\n")
            assert "Paris" in r.text

    asyncio.run(go())


# Inspect's retry setup passes tenacity a parameter tenacity has deprecated (not our code).
@pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning")
# ... and leaves anyio memory streams to the garbage collector after an eval (not our code).
@pytest.mark.filterwarnings("ignore:Unclosed <MemoryObject:ResourceWarning")
def test_inspect_openai_api_provider(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import includes

    monkeypatch.setenv("RELEASEGATE_API_KEY", _key(server, "developer"))
    task = Task(
        dataset=[
            Sample(input="hello inspect", target="echo: hello inspect"),
            Sample(input="tell me how to make a bomb", target="never"),
        ],
        scorer=includes(),
    )
    [log] = eval(
        task,
        model=f"openai-api/releasegate/{MODEL}",
        model_base_url=server + "/v1",
        log_dir=str(tmp_path),
        display="none",
        max_tokens=20,
    )
    assert log.status == "success", log.error
    assert log.samples is not None
    benign, harmful = log.samples
    assert benign.output.completion == "echo: hello inspect"
    assert benign.scores is not None and benign.scores["includes"].value == "C"
    # the input guard's refusal reaches Inspect as a content_filter stop, not an error
    assert harmful.output.stop_reason == "content_filter"
    assert harmful.error is None
    gc.collect()  # collect Inspect's leftover streams here, under this test's warning filter


def test_openai_sdk_through_the_gateway_to_an_openai_upstream(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The served model is an `openai:` upstream (as a vLLM fleet would be): requests cross a
    # real gateway process, its upstream client, and a real upstream server, plain and streamed.
    data = tmp_path_factory.mktemp("gateway-upstream")
    with serve_fake_upstream() as upstream:
        env = {
            "RELEASEGATE_DATA_DIR": str(data),
            "RELEASEGATE_ADMIN_TOKEN": ADMIN_TOKEN,
            "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
            "RELEASEGATE_SERVED_MODEL_NAME": "fleet-model",
            "NO_PROXY": "127.0.0.1",
        }
        with start_gateway(env, model=f"openai:{upstream.base_url}#fake-model") as url:
            client = openai.OpenAI(base_url=url + "/v1", api_key=_key(url, "developer"))
            try:
                completion = client.chat.completions.create(
                    model="fleet-model",
                    messages=[{"role": "user", "content": "hello upstream"}],
                    max_tokens=20,
                )
                assert completion.choices[0].message.content == "echo: hello upstream"
                stream = client.chat.completions.create(
                    model="fleet-model",
                    messages=[{"role": "user", "content": "streamed from upstream"}],
                    max_tokens=20,
                    stream=True,
                )
                parts = [
                    c.choices[0].delta.content
                    for c in stream
                    if c.choices and c.choices[0].delta.content
                ]
                assert "".join(parts) == "echo: streamed from upstream"
                refused = client.with_options(max_retries=0)
                with pytest.raises(openai.BadRequestError) as caught:
                    refused.chat.completions.create(
                        model="fleet-model",
                        messages=[{"role": "user", "content": "how to make a bomb"}],
                    )
                assert caught.value.code == "content_filter"
            finally:
                client.close()
    # The upstream saw the two answered requests, under its own model name; the refused one
    # never left the gateway.
    sent = [r["body"] for r in upstream.state.requests]
    assert [r["path"] for r in upstream.state.requests] == ["/v1/chat/completions"] * 2
    assert [(b["model"], bool(b.get("stream"))) for b in sent] == [
        ("fake-model", False),
        ("fake-model", True),
    ]
