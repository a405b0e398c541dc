"""Research endpoints through the real app on the real bundled model, checked against running
the same model directly with transformers; refusals, extraction budgets, caps and the audit."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from releasegate.backends import HFBackend, OpenAIBackend
from releasegate.gateway import ROUTES as TABLE
from releasegate.gateway import create_app
from releasegate.settings import Settings
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import (
    bearer,
    decision_at,
    gateway_settings,
    keyword_tiers,
    new_key,
    running,
)

pytestmark = pytest.mark.slow

# The response models, as the route table documents them in /openapi.json.
RESPONSE = {row.name: row.response for row in TABLE}

MODEL = "smollm2"  # the served name of bundled:smollm2
TEXT = "Open weights cannot be recalled once they are public."
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
ROUTES = ("hidden_states", "logit_lens", "steer")


@pytest.fixture(scope="module")
def reference(smollm2_dir: Path) -> Iterator[tuple[Any, Any]]:
    """The bundled model loaded again, independently of the gateway, with plain transformers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        smollm2_dir, local_files_only=True, dtype=torch.float32
    ).eval()
    yield model, tokenizer


def _app(tmp_path: Path, backend: Any, settings: dict[str, Any] | None = None, **tiers: Any) -> Any:
    return create_app(
        gateway_settings(tmp_path, **(settings or {})),
        backend=backend,
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=keyword_tiers(**tiers),
    )


def _body(route: str, **extra: Any) -> dict[str, Any]:
    if route == "steer":
        base: dict[str, Any] = {
            "model": MODEL,
            "messages": QUESTION,
            "layer": 10,
            "vector": [0.0] * 576,
            "max_tokens": 6,
        }
    else:
        base = {"model": MODEL, "input": TEXT, "layers": [0, 5, -1]}
    base.update(extra)
    return base


def _audit(app: Any) -> list[Any]:
    return [r for r in app.state.gateway.audit_log.records() if r.kind == "request"]


def test_research_is_refused_to_tiers_without_it_and_audited(
    tmp_path: Path, smollm2_backend: HFBackend
) -> None:
    app = _app(tmp_path, smollm2_backend)

    async def go() -> None:
        async with running(app) as client:
            for tier in ("public", "developer"):
                key = await new_key(client, tier)
                for route in ROUTES:
                    r = await client.post(
                        f"/v1/research/{route}", json=_body(route), headers=bearer(key)
                    )
                    assert r.status_code == 403, r.text
                    error = r.json()["error"]
                    assert error["code"] == "tier_lacks_capability"
                    assert f"tier {tier!r} has no research access" in error["message"]
            r = await client.post("/v1/research/steer", json=_body("steer"))
            assert r.status_code == 401  # no key: refused before anything else

    asyncio.run(go())
    records = _audit(app)
    assert [(r.payload["route"], r.payload["status"]) for r in records] == [
        (f"research.{route}", 403) for _ in range(2) for route in ROUTES
    ]
    assert app.state.gateway.audit_log.verify().ok


def test_hidden_states_equal_output_hidden_states(
    tmp_path: Path, smollm2_backend: HFBackend, reference: tuple[Any, Any]
) -> None:
    model, tokenizer = reference
    app = _app(tmp_path, smollm2_backend)
    ids = tokenizer(TEXT)["input_ids"]
    with torch.inference_mode():
        ref = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        final_norm = model.get_decoder().norm
    last = model.config.num_hidden_layers

    async def go() -> list[dict[str, Any]]:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            out = []
            for extra in (
                {},
                {"pool": "mean", "layers": [7]},
                {"pool": "last", "layers": [7], "encoding_format": "base64"},
            ):
                r = await client.post(
                    "/v1/research/hidden_states",
                    json=_body("hidden_states", **extra),
                    headers=bearer(key),
                )
                assert r.status_code == 200, r.text
                out.append(r.json())
            return out

    full, mean, last_b64 = asyncio.run(go())
    for body in (full, mean, last_b64):
        RESPONSE["research.hidden_states"].model_validate(body)
    assert full["tokens"] == [tokenizer.decode([i]) for i in ids]
    layers = {entry["layer"]: entry for entry in full["layers"]}
    assert sorted(layers) == [0, 5, last]
    for layer in (0, 5):
        assert layers[layer]["shape"] == [len(ids), 576]
        np.testing.assert_allclose(
            np.array(layers[layer]["data"]), ref.hidden_states[layer][0].numpy(), atol=1e-4
        )
    # transformers' last entry has the final norm applied; the endpoint returns the raw stream
    with torch.inference_mode():
        normed = final_norm(torch.tensor(layers[last]["data"], dtype=torch.float32))
    np.testing.assert_allclose(normed.numpy(), ref.hidden_states[-1][0].numpy(), atol=1e-4)
    np.testing.assert_allclose(
        np.array(mean["layers"][0]["data"]), ref.hidden_states[7][0].mean(0).numpy(), atol=1e-4
    )
    decoded = np.frombuffer(base64.b64decode(last_b64["layers"][0]["data"]), dtype="<f4")
    np.testing.assert_allclose(decoded, ref.hidden_states[7][0][-1].numpy(), atol=1e-4)
    budget = 5_000_000  # the researcher tier's default extraction budget
    assert full["usage"]["floats"] == 3 * len(ids) * 576
    assert last_b64["usage"]["extraction_budget_remaining"] == budget - (3 * len(ids) + 2) * 576

    records = _audit(app)
    assert [r.payload["route"] for r in records] == ["research.hidden_states"] * 3
    assert records[0].payload["floats"] == 3 * len(ids) * 576
    assert records[0].payload["layers"] == [0, 5, last]
    assert records[0].payload["content"]["prompt"] == TEXT
    assert app.state.gateway.audit_log.verify().ok


def test_logit_lens_equals_final_norm_and_lm_head(
    tmp_path: Path, smollm2_backend: HFBackend, reference: tuple[Any, Any]
) -> None:
    model, tokenizer = reference
    app = _app(tmp_path, smollm2_backend)
    text = "The capital of France is"
    ids = tokenizer(text)["input_ids"]

    async def go() -> dict[str, Any]:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            r = await client.post(
                "/v1/research/logit_lens",
                json={"model": MODEL, "input": text, "layers": [3, 15, -1], "top_k": 3},
                headers=bearer(key),
            )
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            return body

    body = asyncio.run(go())
    RESPONSE["research.logit_lens"].model_validate(body)
    last = model.config.num_hidden_layers
    with torch.inference_mode():
        ref = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
        norm, head = model.get_decoder().norm, model.get_output_embeddings()
        expected = {
            layer: torch.softmax(head(norm(ref.hidden_states[layer][0])), dim=-1)
            for layer in (3, 15)
        }
        expected[last] = torch.softmax(ref.logits[0], dim=-1)  # the model's own prediction
    assert [entry["layer"] for entry in body["layers"]] == [3, 15, last]
    for entry in body["layers"]:
        probs = expected[entry["layer"]]
        assert len(entry["positions"]) == len(ids)
        for position, predictions in enumerate(entry["positions"]):
            top = torch.topk(probs[position], 3)
            assert [p["token"] for p in predictions] == [tokenizer.decode([i]) for i in top.indices]
            assert [p["prob"] for p in predictions] == pytest.approx(top.values.tolist(), abs=1e-4)
    assert body["usage"]["floats"] == 3 * len(ids) * 3
    assert _audit(app)[-1].payload["top_k"] == 3


def test_steering_zero_vector_is_greedy_and_a_large_one_changes_it(
    tmp_path: Path, smollm2_backend: HFBackend, reference: tuple[Any, Any]
) -> None:
    model, tokenizer = reference
    app = _app(tmp_path, smollm2_backend)
    prompt = tokenizer.apply_chat_template(QUESTION, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )[0][len(ids) :].tolist()
    eos = tokenizer.eos_token_id
    greedy = tokenizer.decode(out[: out.index(eos)] if eos in out else out)
    vector = np.random.default_rng(0).standard_normal(576).astype(np.float32).tolist()

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            zero = await client.post("/v1/research/steer", json=_body("steer"), headers=bearer(key))
            big = await client.post(
                "/v1/research/steer",
                json=_body("steer", vector=vector, scale=8.0),
                headers=bearer(key),
            )
            assert zero.status_code == 200 and big.status_code == 200, (zero.text, big.text)
            return zero.json(), big.json()

    zero, big = asyncio.run(go())
    RESPONSE["research.steer"].model_validate(zero)
    assert "Paris" in greedy
    assert zero["text"] == greedy
    assert big["text"] != greedy
    assert zero["usage"]["floats"] == 0 and zero["usage"]["prompt_tokens"] == len(ids)
    record = _audit(app)[-1]
    assert record.payload["route"] == "research.steer"
    assert record.payload["layer"] == 10 and record.payload["scale"] == 8.0
    assert record.payload["content"]["output"] == big["text"]


@pytest.fixture(params=["memory", "redis"])
def limiter_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_url")}
    return {}


def test_extraction_budget_stops_a_key_before_computing(
    tmp_path: Path, smollm2_backend: HFBackend, limiter_settings: dict[str, Any]
) -> None:
    # one pooled layer is 576 floats: two requests fit in 1500, a third does not
    app = _app(tmp_path, smollm2_backend, limiter_settings, researcher={"extraction_budget": 1500})
    pooled = _body("hidden_states", layers=[4], pool="last")

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            other = await new_key(client, "researcher", owner="someone else")
            post = client.post
            remaining = []
            for _ in range(2):
                r = await post("/v1/research/hidden_states", json=pooled, headers=bearer(key))
                assert r.status_code == 200, r.text
                remaining.append(r.json()["usage"]["extraction_budget_remaining"])
            assert remaining == [1500 - 576, 1500 - 1152]
            # refused by the input guard: nothing computed, nothing spent
            flagged = _body("hidden_states", input="how to kill someone", layers=[4], pool="last")
            r = await post("/v1/research/hidden_states", json=flagged, headers=bearer(key))
            assert r.status_code == 400 and r.json()["error"]["code"] == "content_filter"
            calls_before = len(_audit(app))
            r = await post("/v1/research/hidden_states", json=pooled, headers=bearer(key))
            assert r.status_code == 429, r.text
            error = r.json()["error"]
            assert error["code"] == "extraction_budget_exceeded"
            assert (
                "would return 576 floats but only 348 of this key's daily budget of 1,500"
                in (error["message"])
            )
            assert int(r.headers["Retry-After"]) > 0
            # steering returns text only: still served; another key has its own budget
            r = await post("/v1/research/steer", json=_body("steer"), headers=bearer(key))
            assert r.status_code == 200 and r.json()["usage"]["extraction_budget_remaining"] == 348
            r = await post("/v1/research/hidden_states", json=pooled, headers=bearer(other))
            assert r.status_code == 200
            assert len(_audit(app)) == calls_before + 3

    asyncio.run(go())
    refused = [r for r in _audit(app) if r.payload["status"] == 429]
    assert len(refused) == 1 and refused[0].payload["error"] == "extraction_budget_exceeded"
    assert "floats" not in refused[0].payload  # refused before the model ran


def test_caps_and_bad_input_are_400_naming_the_cap(
    tmp_path: Path, smollm2_backend: HFBackend
) -> None:
    caps = {"research_max_layers": 2, "research_max_tokens": 8, "research_max_floats": 2000}
    app = _app(tmp_path, smollm2_backend, caps)
    short = "Hello there"
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("hidden_states", {"input": short, "layers": [1, 2, 3]}, 400, "research_max_layers"),
        ("hidden_states", {"input": TEXT * 3, "layers": [1]}, 400, "research_max_tokens"),
        ("hidden_states", {"input": short, "layers": [1, 2]}, 400, "research_max_floats"),
        ("logit_lens", {"input": short, "layers": [1], "top_k": 50}, 400, "research_max_top_k"),
        ("hidden_states", {"input": short, "layers": [31]}, 400, "out of range"),
        ("hidden_states", {"input": short, "layers": [1], "pool": "max"}, 400, "pool"),
        ("hidden_states", {"input": short, "layers": [1], "stride": 2}, 400, "stride"),
        ("hidden_states", {"input": "", "layers": [1]}, 400, "input"),
        ("steer", {"vector": [1.0, 2.0]}, 400, "hidden size is 576"),
        ("steer", {"scale": "big"}, 400, "scale"),
        ("steer", {"layer": -40}, 400, "out of range"),
        ("steer", {"max_tokens": 5000}, 403, "max_tokens"),
        ("logit_lens", {"model": "gpt-4", "input": short, "layers": [1]}, 404, "gpt-4"),
    ]

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            for route, extra, status, needle in cases:
                body = _body(route) if route == "steer" else {"model": MODEL}
                body.update(extra)
                r = await client.post(f"/v1/research/{route}", json=body, headers=bearer(key))
                assert r.status_code == status, (extra, r.text)
                assert needle in r.json()["error"]["message"], (extra, r.text)
            # within the caps: served (2 layers pooled = 1152 floats)
            r = await client.post(
                "/v1/research/hidden_states",
                json={"model": MODEL, "input": short, "layers": [1, 2], "pool": "mean"},
                headers=bearer(key),
            )
            assert r.status_code == 200, r.text

    asyncio.run(go())
    statuses = [r.payload["status"] for r in _audit(app)]
    assert statuses == [c[2] for c in cases] + [200]


def test_an_openai_upstream_has_no_research_endpoints(tmp_path: Path) -> None:
    backend = OpenAIBackend.from_spec("openai:http://127.0.0.1:9/v1#upstream-model", Settings())
    app = _app(tmp_path, backend)

    async def go() -> None:
        async with running(app) as client:
            key = await new_key(client, "researcher")
            for route in ROUTES:
                body = _body(route, model="upstream-model")  # served name of the spec
                r = await client.post(f"/v1/research/{route}", json=body, headers=bearer(key))
                assert r.status_code == 400, r.text
                error = r.json()["error"]
                assert error["code"] == "research_needs_local_backend"
                assert "research endpoints need a local backend" in error["message"]
                assert "127.0.0.1" not in error["message"]  # the upstream is not disclosed

    try:
        asyncio.run(go())
    finally:
        asyncio.run(backend.aclose())
