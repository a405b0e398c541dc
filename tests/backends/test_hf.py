"""HFBackend on the real bundled model, checked against running transformers directly."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
import torch

from releasegate.backends import ChatMessage, GenerationParams, HFBackend
from releasegate.errors import InputError

pytestmark = pytest.mark.slow

FRANCE = [ChatMessage(role="user", content="What is the capital of France?")]
HI = [ChatMessage(role="user", content="Say hello.")]
LONGER = [
    ChatMessage(role="system", content="You answer in one short sentence."),
    ChatMessage(role="user", content="Name a colour of the sky on a clear day."),
]
GREEDY = GenerationParams(max_tokens=10)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def direct_greedy(backend: HFBackend, ids: list[int], n: int) -> list[int]:
    """Greedy continuation by transformers' own `generate`."""
    with backend.lock, torch.inference_mode():
        out = backend.model.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=n,
            do_sample=False,
            pad_token_id=backend.tokenizer.pad_token_id,
        )
    return [int(t) for t in out[0][len(ids) :]]


def direct_logprobs(backend: HFBackend, ids: list[int]) -> torch.Tensor:
    with backend.lock, torch.inference_mode():
        logits = backend.model(input_ids=torch.tensor([ids])).logits[0]
    return torch.log_softmax(logits.float(), dim=-1)


def test_greedy_chat_matches_transformers_generate(smollm2_backend: HFBackend) -> None:
    out = run(smollm2_backend.chat(FRANCE, GREEDY))
    ids = smollm2_backend.chat_prompt_ids(FRANCE)
    expected = direct_greedy(smollm2_backend, ids, GREEDY.max_tokens)
    eos = smollm2_backend.tokenizer.eos_token_id
    text_ids = expected[: expected.index(eos)] if eos in expected else expected
    assert out.text == smollm2_backend.tokenizer.decode(text_ids)
    assert "Paris" in out.text
    assert out.prompt_tokens == len(ids)
    assert out.finish_reason == ("stop" if eos in expected else "length")


def test_logprobs_match_a_direct_forward_pass(smollm2_backend: HFBackend) -> None:
    params = GenerationParams(max_tokens=6, logprobs=True, top_logprobs=3)
    out = run(smollm2_backend.chat(FRANCE, params))
    assert out.logprobs is not None and len(out.logprobs) >= 3
    ids = smollm2_backend.chat_prompt_ids(FRANCE)
    generated = smollm2_backend.tokenizer(out.text, add_special_tokens=False)["input_ids"]
    logp = direct_logprobs(smollm2_backend, ids + generated)
    for step, (token_id, item) in enumerate(zip(generated, out.logprobs, strict=False)):
        expected = float(logp[len(ids) - 1 + step, token_id])
        assert item.logprob == pytest.approx(expected, abs=1e-3)
        assert len(item.top) == 3
        # greedy: the chosen token is the most likely one
        assert item.logprob == pytest.approx(max(item.top.values()), abs=1e-6)
    assert "".join(t.token for t in out.logprobs) == out.text


def test_stream_concatenates_to_the_chat_answer(smollm2_backend: HFBackend) -> None:
    async def go() -> list[Any]:
        return [c async for c in smollm2_backend.stream_chat(FRANCE, GREEDY)]

    chunks = run(go())
    plain = run(smollm2_backend.chat(FRANCE, GREEDY))
    assert len(chunks) >= 3  # increments, not one blob
    assert "".join(c.text for c in chunks) == plain.text
    final = chunks[-1]
    assert final.finish_reason == plain.finish_reason
    assert (final.prompt_tokens, final.completion_tokens) == (
        plain.prompt_tokens,
        plain.completion_tokens,
    )
    assert all(c.finish_reason is None for c in chunks[:-1])


def test_stream_stopped_early_leaves_the_backend_usable(smollm2_backend: HFBackend) -> None:
    async def go() -> str:
        stream = smollm2_backend.stream_chat(FRANCE, GenerationParams(max_tokens=40))
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
        return (await smollm2_backend.chat(HI, GenerationParams(max_tokens=3))).text

    assert run(go())


def test_batch_equals_one_by_one(smollm2_backend: HFBackend) -> None:
    conversations = [FRANCE, HI, LONGER]
    batch = run(smollm2_backend.generate_batch(conversations, GREEDY))
    single = [run(smollm2_backend.chat(c, GREEDY)) for c in conversations]
    assert [b.text for b in batch] == [s.text for s in single]
    assert [b.prompt_tokens for b in batch] == [s.prompt_tokens for s in single]


def test_seeded_sampling_is_reproducible_alone_and_in_a_batch(smollm2_backend: HFBackend) -> None:
    params = GenerationParams(max_tokens=8, temperature=1.0, top_p=0.9, seed=7)
    first = run(smollm2_backend.chat(HI, params)).text
    again = run(smollm2_backend.chat(HI, params)).text
    batch = run(smollm2_backend.generate_batch([FRANCE, HI], params))
    assert first == again == batch[1].text
    other_seeds = {
        run(smollm2_backend.chat(HI, params.model_copy(update={"seed": s}))).text for s in (1, 2, 3)
    }
    assert len(other_seeds | {first}) > 1  # the seed matters


def test_stop_string_cuts_text_in_chat_and_stream(smollm2_backend: HFBackend) -> None:
    params = GenerationParams(max_tokens=12, stop=[" Paris"])
    out = run(smollm2_backend.chat(FRANCE, params))
    assert out.finish_reason == "stop"
    assert "Paris" not in out.text and out.text.startswith("The capital of France")

    async def go() -> str:
        return "".join([c.text async for c in smollm2_backend.stream_chat(FRANCE, params)])

    assert run(go()) == out.text


def test_max_tokens_ends_with_length(smollm2_backend: HFBackend) -> None:
    out = run(smollm2_backend.chat(LONGER, GenerationParams(max_tokens=2)))
    assert out.finish_reason == "length" and out.completion_tokens == 2


def test_complete_matches_transformers_generate(smollm2_backend: HFBackend) -> None:
    prompt = "The three primary colours are"
    out = run(smollm2_backend.complete(prompt, GenerationParams(max_tokens=6)))
    ids = smollm2_backend.tokenizer(prompt)["input_ids"]
    expected = direct_greedy(smollm2_backend, ids, 6)
    assert out.text == smollm2_backend.tokenizer.decode(expected)


def test_choice_logprobs_match_a_direct_forward_pass(smollm2_backend: HFBackend) -> None:
    prompt = "Question: What is the capital of France?\nAnswer:"
    choices = [" Paris", " London", " Berlin and Rome"]
    scores = run(smollm2_backend.choice_logprobs(prompt, choices))
    tok = smollm2_backend.tokenizer
    context = tok(prompt)["input_ids"]
    for choice, score in zip(choices, scores, strict=True):
        cont = tok(choice, add_special_tokens=False)["input_ids"]
        logp = direct_logprobs(smollm2_backend, context + cont)
        expected = sum(float(logp[len(context) - 1 + j, t]) for j, t in enumerate(cont))
        assert score == pytest.approx(expected, abs=1e-3)
    assert scores[0] == max(scores)
    many = run(smollm2_backend.choice_logprobs_many([(prompt, choices), ("2 + 2 =", [" 4", " 5"])]))
    assert many[0] == pytest.approx(scores, abs=1e-4)
    assert len(many[1]) == 2


def test_concurrent_requests_queue_on_the_model(smollm2_backend: HFBackend) -> None:
    async def go() -> list[Any]:
        return list(
            await asyncio.gather(*(smollm2_backend.chat(c, GREEDY) for c in (FRANCE, HI, FRANCE)))
        )

    outs = run(go())
    assert outs[0].text == outs[2].text == run(smollm2_backend.chat(FRANCE, GREEDY)).text


def test_hidden_states_match_output_hidden_states(smollm2_backend: HFBackend) -> None:
    text = "Open weights cannot be recalled."
    last = smollm2_backend.num_layers
    states = run(smollm2_backend.hidden_states(text, [0, 5, -1]))
    assert sorted(states.layers) == [0, 5, last]
    ids = smollm2_backend.tokenizer(text)["input_ids"]
    with smollm2_backend.lock, torch.inference_mode():
        ref = smollm2_backend.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    for layer in (0, 5):
        np.testing.assert_allclose(
            states.layers[layer], ref.hidden_states[layer][0].numpy(), atol=1e-4
        )
    # transformers applies the final norm to its last entry; ours is the raw residual stream
    norm = smollm2_backend.model.get_decoder().norm
    with torch.inference_mode():
        normed = norm(torch.from_numpy(states.layers[last])).numpy()
    np.testing.assert_allclose(normed, ref.hidden_states[-1][0].numpy(), atol=1e-4)
    assert len(states.tokens) == len(ids)
    pooled = run(smollm2_backend.hidden_states(text, [5], pool="mean"))
    np.testing.assert_allclose(pooled.layers[5], states.layers[5].mean(axis=0), atol=1e-5)


def test_logit_lens_final_layer_is_the_models_prediction(smollm2_backend: HFBackend) -> None:
    text = "The capital of France is"
    lens = run(smollm2_backend.logit_lens(text, [3, -1], top_k=3))
    ids = smollm2_backend.tokenizer(text)["input_ids"]
    with smollm2_backend.lock, torch.inference_mode():
        probs = torch.softmax(smollm2_backend.model(input_ids=torch.tensor([ids])).logits[0], -1)
    top = torch.topk(probs[-1], 3)
    final = lens.layers[smollm2_backend.num_layers][-1]
    assert [t.token for t in final] == [smollm2_backend.tokenizer.decode([i]) for i in top.indices]
    assert [t.prob for t in final] == pytest.approx(top.values.tolist(), abs=1e-4)
    assert len(lens.layers[3]) == len(ids) and len(lens.layers[3][0]) == 3


def test_steering_matches_a_forward_hook_on_the_model(smollm2_backend: HFBackend) -> None:
    rng = np.random.default_rng(0)
    vector = rng.standard_normal(smollm2_backend.hidden_size).astype(np.float32)
    params = GenerationParams(max_tokens=6)
    plain = run(smollm2_backend.chat(FRANCE, params)).text
    assert run(smollm2_backend.steer_generate(FRANCE, 10, vector, 0.0, params)).text == plain
    steered = run(smollm2_backend.steer_generate(FRANCE, 10, vector, 8.0, params)).text
    assert steered != plain

    delta = torch.from_numpy(vector) * 8.0
    layer = smollm2_backend.model.get_decoder().layers[9]  # output of block 10
    handle = layer.register_forward_hook(lambda _m, _i, out: out + delta)
    try:
        ids = smollm2_backend.chat_prompt_ids(FRANCE)
        expected = direct_greedy(smollm2_backend, ids, 6)
    finally:
        handle.remove()
    eos = smollm2_backend.tokenizer.eos_token_id
    expected = expected[: expected.index(eos)] if eos in expected else expected
    assert steered == smollm2_backend.tokenizer.decode(expected)


def test_research_inputs_are_checked(smollm2_backend: HFBackend) -> None:
    with pytest.raises(InputError, match="layer 99 out of range"):
        run(smollm2_backend.hidden_states("x", [99]))
    with pytest.raises(InputError, match="hidden size is 576"):
        run(smollm2_backend.steer_generate(FRANCE, 3, [1.0, 2.0], 1.0, GREEDY))
    with pytest.raises(InputError, match="top_k"):
        run(smollm2_backend.logit_lens("x", [1], top_k=0))
    with pytest.raises(InputError, match="empty"):
        run(smollm2_backend.hidden_states("", [1]))


def test_context_overflow_is_input_error(smollm2_backend: HFBackend) -> None:
    with pytest.raises(InputError, match="exceeds the model's context"):
        run(smollm2_backend.chat(FRANCE, GenerationParams(max_tokens=9000)))


def test_aclose_frees_the_model(smollm2_dir: Any) -> None:
    """A closed backend lets its weights go (the assessment loads several models in turn)."""
    import weakref

    from releasegate.backends import BackendError

    backend = HFBackend(smollm2_dir, device="cpu")
    weights = weakref.ref(backend.model)
    run(backend.chat(HI, GenerationParams(max_tokens=2)))
    run(backend.aclose())
    assert weights() is None
    run(backend.aclose())  # closing twice is harmless
    with pytest.raises(BackendError, match="closed"):
        run(backend.chat(HI, GenerationParams(max_tokens=2)))
