"""lora_finetune: deterministic given a seed, really changes the model, records its cost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from releasegate.backends import (
    ChatMessage,
    GenerationParams,
    HFBackend,
    LoraRunConfig,
    lora_finetune,
    merge_lora,
)
from releasegate.errors import InputError

pytestmark = pytest.mark.slow

EXAMPLES = [
    {
        "messages": [
            {"role": "user", "content": "What colour is the sky?"},
            {"role": "assistant", "content": "Blue, on a clear day."},
        ]
    },
    [
        ChatMessage(role="user", content="Name a prime number."),
        ChatMessage(role="assistant", content="Seven is prime."),
    ],
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is water made of?"},
            {"role": "assistant", "content": "Hydrogen and oxygen."},
        ]
    },
]
# Adapters on the top two layers only: backpropagation stops there, so a step is cheap on CPU.
CONFIG = LoraRunConfig(
    steps=3, learning_rate=5e-3, rank=4, batch_size=2, seed=11, max_length=96, layers=(28, 29)
)


def test_same_seed_same_adapter_and_merge_matches(smollm2_dir: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, float]] = []
    first, stats = lora_finetune(
        smollm2_dir,
        EXAMPLES,
        CONFIG,
        tmp_path / "a",
        on_step=lambda s, loss: calls.append((s, loss)),
    )
    second, stats2 = lora_finetune(smollm2_dir, EXAMPLES, CONFIG, tmp_path / "b")
    weights = load_file(str(first / "adapter_model.safetensors"))
    again = load_file(str(second / "adapter_model.safetensors"))
    assert weights.keys() == again.keys() and len(weights) > 0
    assert all((weights[k] == again[k]).all() for k in weights)
    assert stats.losses == stats2.losses and len(stats.losses) == 3
    assert [s for s, _ in calls] == [1, 2, 3]
    assert stats.examples == 3 and stats.trainable_parameters > 0 and stats.wall_time_s > 0
    recorded = json.loads((first / "releasegate-finetune.json").read_text())
    assert recorded["config"]["seed"] == 11 and recorded["stats"]["losses"] == stats.losses
    # LoRA's B matrices start at zero: a non-zero B means training moved the weights.
    assert any(abs(v).max() > 0 for k, v in weights.items() if "lora_B" in k)
    assert {int(k.split(".layers.")[1].split(".")[0]) for k in weights} == {28, 29}

    merged = merge_lora(smollm2_dir, first, tmp_path / "merged")
    question = [ChatMessage(role="user", content="What colour is the sky?")]
    params = GenerationParams(max_tokens=6, logprobs=True)

    async def answers() -> list[list[float]]:
        out = []
        for backend in (
            HFBackend(smollm2_dir, device="cpu", adapter_dir=first),
            HFBackend(merged, device="cpu"),
            HFBackend(smollm2_dir, device="cpu"),
        ):
            gen = await backend.chat(question, params)
            await backend.aclose()
            out.append([t.logprob for t in gen.logprobs or []])
        return out

    adapted, merged_out, base = asyncio.run(answers())
    assert adapted == pytest.approx(merged_out, abs=1e-3)
    assert adapted != pytest.approx(base, abs=1e-3)


def test_answer_loss_equals_transformers_labels_loss(smollm2_dir: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from releasegate.backends._finetune import (
        _answer_loss,
        _answer_tokens,
        _messages,
        _tokenize,
        quiet_peft,
    )

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    rows = [_tokenize(tokenizer, _messages(e, i), 96) for i, e in enumerate(EXAMPLES)]
    longest = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([i + [2] * (longest - len(i)) for i, _ in rows])
    labels = torch.tensor([lab + [-100] * (longest - len(lab)) for _, lab in rows])
    mask = torch.tensor([[1] * len(i) + [0] * (longest - len(i)) for i, _ in rows])
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir)
    with quiet_peft():
        peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"]))
    tokens = sum(_answer_tokens(lab) for _, lab in rows)
    with torch.inference_mode():
        ours = float(_answer_loss(peft_model, ids, mask, labels, tokens))
        reference = float(peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss)
        # One example at a time, over the batch's answer tokens: the parts add up to the whole.
        parts = sum(
            float(
                _answer_loss(peft_model, ids[i : i + 1], mask[i : i + 1], labels[i : i + 1], tokens)
            )
            for i in range(len(rows))
        )
    assert ours == pytest.approx(reference, rel=1e-4)
    assert parts == pytest.approx(reference, rel=1e-4)
    # only the answers are learned: the prompt tokens carry no label
    assert all(lab[0] == -100 for _, lab in rows)


def test_bad_examples_are_named(smollm2_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no examples"):
        lora_finetune(smollm2_dir, [], CONFIG, tmp_path / "x")
    bad = [EXAMPLES[0], {"messages": [{"role": "user", "content": "only a question"}]}]
    with pytest.raises(InputError, match=r"\[1\]\.messages: the last message must be"):
        lora_finetune(smollm2_dir, bad, CONFIG, tmp_path / "x")
    with pytest.raises(InputError, match=r"\[0\]\.messages\[0\]"):
        lora_finetune(smollm2_dir, [{"messages": [{"role": "robot"}]}], CONFIG, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_micro_batches_give_the_batch_update(smollm2_dir: Path, tmp_path: Path) -> None:
    """Gradients accumulated one example at a time (the default, lowest memory) update the
    adapter as the whole batch in one pass does, up to float rounding."""
    whole = CONFIG.model_copy(update={"micro_batch_size": CONFIG.batch_size})
    one, stats_one = lora_finetune(smollm2_dir, EXAMPLES, CONFIG, tmp_path / "one")
    two, stats_two = lora_finetune(smollm2_dir, EXAMPLES, whole, tmp_path / "two")
    assert CONFIG.micro_batch_size == 1
    assert stats_one.losses == pytest.approx(stats_two.losses, rel=1e-4)
    a = load_file(str(one / "adapter_model.safetensors"))
    b = load_file(str(two / "adapter_model.safetensors"))
    # Adam divides each step by the gradient's own scale, so a component whose gradient is
    # near zero may move differently on rounding alone; the adapter as a whole moves alike.
    for key in a:
        if "lora_B" in key:
            assert np.linalg.norm(a[key] - b[key]) <= 5e-2 * np.linalg.norm(a[key]), key
