"""LoRA fine-tuning of a local causal LM on chat examples, and merging an adapter into weights.

One general function serves two purposes: training the bundled model's refusal adapter
(`scripts/train_refusal_adapter.py`) and the assessment's tamper sweep, which fine-tunes a model
to test how easily its safeguards come off (Qi et al. 2023, "Fine-tuning aligned language models
compromises safety"). LoRA: Hu et al. 2021, through Hugging Face peft.

Training is deterministic given the seed: the LoRA initialisation and the batch order come from
it, and the global torch RNG is left as it was.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from releasegate.backends._base import ChatMessage
from releasegate.backends._offline import force_offline
from releasegate.backends._torch import quiet_peft, release_memory, resolve_device
from releasegate.errors import InputError, Problem

ChatExample = Sequence[ChatMessage | Mapping[str, str]] | Mapping[str, Any]
"""A conversation ending with the assistant turn to learn: a list of messages, or a JSONL-style
object `{"messages": [...]}`."""

STATS_FILE = "releasegate-finetune.json"


class LoraRunConfig(BaseModel):
    """How to fine-tune: optimisation and LoRA shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int = Field(default=100, ge=1, description="optimizer steps")
    learning_rate: float = Field(default=2e-4, gt=0)
    rank: int = Field(default=8, ge=1, description="LoRA rank r")
    alpha: int | None = Field(default=None, gt=0, description="LoRA alpha (default 2 * rank)")
    batch_size: int = Field(default=8, ge=1)
    micro_batch_size: int = Field(
        default=1,
        ge=1,
        description=(
            "examples per forward/backward pass; gradients are summed over the batch, so the "
            "update is the batch's whatever this is (up to float rounding). 1 keeps the memory "
            "of a step's activations lowest (a CPU laptop); larger is faster on a GPU"
        ),
    )
    seed: int = 0
    max_length: int = Field(default=256, ge=8, description="tokens per example, longer cut")
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    layers: tuple[int, ...] | None = Field(
        default=None,
        description=(
            "decoder layers (0-based) that get adapters; None: all. Adapting only upper layers "
            "makes a step cheaper: backpropagation stops below the lowest adapted layer"
        ),
    )
    device: str = Field(default="auto", description="'auto', 'cpu' or 'cuda'")


class FinetuneStats(BaseModel):
    """What a fine-tuning run cost and reached (recorded next to the adapter)."""

    examples: int
    steps: int
    batch_size: int
    learning_rate: float
    rank: int
    seed: int
    trainable_parameters: int
    wall_time_s: float
    first_loss: float
    final_loss: float
    losses: list[float]
    tokens: int = Field(default=0, description="tokens of the examples trained on, all steps")


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `final`; on success it replaces `final` in one rename."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary directory
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".old-{final.name}-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _messages(example: ChatExample, index: int) -> list[dict[str, str]]:
    raw: Any = example
    if isinstance(example, Mapping):
        raw = example.get("messages")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise InputError(
            "fine-tuning examples",
            [Problem("expected a non-empty list of messages", path=f"[{index}]")],
        )
    messages = []
    for j, message in enumerate(raw):
        if isinstance(message, ChatMessage):
            messages.append({"role": message.role, "content": message.content})
            continue
        try:
            messages.append(
                ChatMessage(role=message["role"], content=message["content"]).model_dump()
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                "fine-tuning examples",
                [Problem(f"not a chat message: {exc}", path=f"[{index}].messages[{j}]")],
            ) from exc
    if messages[-1]["role"] != "assistant":
        raise InputError(
            "fine-tuning examples",
            [Problem("the last message must be the assistant's", path=f"[{index}].messages")],
        )
    return messages


def _tokenize(
    tokenizer: Any, messages: list[dict[str, str]], max_length: int
) -> tuple[list[int], list[int]]:
    """Token ids and labels; only the final assistant turn (with its end token) is learned."""
    prompt = str(
        tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
    )
    full = str(tokenizer.apply_chat_template(messages, tokenize=False))
    if not full.startswith(prompt):
        raise InputError(
            "fine-tuning examples",
            [Problem("the model's chat template does not extend the prompt with the answer")],
        )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    ids = (list(prompt_ids) + list(answer_ids))[:max_length]
    labels = ([-100] * len(prompt_ids) + list(answer_ids))[:max_length]
    return ids, labels


def _answer_loss(model: Any, input_ids: Any, mask: Any, labels: Any, denominator: int) -> Any:
    """Next-token cross-entropy summed over answer tokens only, divided by `denominator` (the
    answer tokens of the whole batch, so micro-batches add up to the batch's mean).

    Same value as transformers' `labels=` loss on the whole batch, but the unembedding (a
    49k-vocabulary matmul for SmolLM2) runs only at answer positions instead of every position:
    on CPU that is a large part of a step's cost.
    """
    import torch

    causal_lm = model.get_base_model()
    hidden = causal_lm.get_decoder()(input_ids=input_ids, attention_mask=mask).last_hidden_state
    targets = labels[:, 1:]
    keep = targets != -100
    logits = causal_lm.get_output_embeddings()(hidden[:, :-1][keep])
    total = torch.nn.functional.cross_entropy(logits.float(), targets[keep], reduction="sum")
    return total / denominator


def _answer_tokens(labels: list[int]) -> int:
    return sum(1 for label in labels[1:] if label != -100)


def lora_finetune(
    model_dir: str | Path,
    examples: Sequence[ChatExample],
    config: LoraRunConfig,
    out_dir: str | Path | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[Path, FinetuneStats]:
    """Train a LoRA adapter on chat examples.

    Args:
        model_dir: a transformers model directory with a chat template.
        examples: conversations whose last message is the assistant answer to learn.
        config: steps, learning rate, rank, batch size, seed...
        out_dir: where the adapter goes (replaced atomically); a new temp dir when None.
        on_step: called after each step with (step number from 1, loss), e.g. for progress.

    Returns:
        The adapter directory (peft format, safetensors, plus `releasegate-finetune.json`) and
        the run's statistics (wall time included).

    Raises:
        InputError: no examples, or a malformed one (named by index).
    """
    force_offline()
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not examples:
        raise InputError("fine-tuning examples", [Problem("no examples given")])
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    data = [
        _tokenize(tokenizer, _messages(example, i), config.max_length)
        for i, example in enumerate(examples)
    ]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = resolve_device(config.device)
    rng = random.Random(config.seed)
    losses: list[float] = []
    tokens = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model: Any = AutoModelForCausalLM.from_pretrained(
            model_dir, local_files_only=True, dtype=torch.float32
        )
        model = model.to(device)
        lora = LoraConfig(
            r=config.rank,
            lora_alpha=int(config.alpha or 2 * config.rank),
            lora_dropout=0.0,
            target_modules=list(config.target_modules),
            layers_to_transform=list(config.layers) if config.layers is not None else None,
            task_type="CAUSAL_LM",
        )
        with quiet_peft():
            model = get_peft_model(model, lora)
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=0.0)
        order: list[int] = []
        for _ in range(config.steps):
            batch = []
            for _ in range(min(config.batch_size, len(data))):
                if not order:  # a fresh seeded shuffle per epoch
                    order = list(range(len(data)))
                    rng.shuffle(order)
                batch.append(data[order.pop()])
            # Activations are kept for one micro-batch at a time; gradients add up.
            denominator = max(1, sum(_answer_tokens(lab) for _, lab in batch))
            loss_value = 0.0
            tokens += sum(len(ids) for ids, _ in batch)
            for start in range(0, len(batch), config.micro_batch_size):
                part = batch[start : start + config.micro_batch_size]
                longest = max(len(ids) for ids, _ in part)
                input_ids = torch.tensor(
                    [ids + [pad] * (longest - len(ids)) for ids, _ in part], device=device
                )
                labels = torch.tensor(
                    [lab + [-100] * (longest - len(lab)) for _, lab in part], device=device
                )
                mask = torch.tensor(
                    [[1] * len(ids) + [0] * (longest - len(ids)) for ids, _ in part],
                    device=device,
                )
                loss = _answer_loss(model, input_ids, mask, labels, denominator)
                loss.backward()
                loss_value += float(loss.detach())
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(round(loss_value, 5))
            if on_step is not None:
                on_step(len(losses), losses[-1])
        model.eval()
        stats = FinetuneStats(
            examples=len(data),
            steps=config.steps,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            rank=config.rank,
            seed=config.seed,
            trainable_parameters=sum(p.numel() for p in trainable),
            wall_time_s=round(time.perf_counter() - started, 2),
            first_loss=losses[0],
            final_loss=losses[-1],
            losses=losses,
            tokens=tokens,
        )
        target = (
            Path(out_dir)
            if out_dir is not None
            else Path(tempfile.mkdtemp(prefix="releasegate-lora-"))
        )
        with atomic_directory(target) as tmp:
            model.save_pretrained(str(tmp))
            # peft writes a template model card naming the local base path; the stats file
            # below is the record that matters.
            (tmp / "README.md").unlink(missing_ok=True)
            (tmp / STATS_FILE).write_text(
                json.dumps(
                    {"config": config.model_dump(mode="json"), "stats": stats.model_dump()},
                    indent=2,
                )
                + "\n"
            )
    # The model copy and the optimizer state go now, not when the caller's next model is loaded.
    del model, optimizer, trainable
    release_memory()
    return target, stats


def merge_lora(model_dir: str | Path, adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Write `model_dir` with the LoRA adapter merged into its weights (plus the tokenizer) to
    `out_dir`, a plain transformers directory that loads without peft."""
    force_offline()
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base: Any = AutoModelForCausalLM.from_pretrained(
        model_dir, local_files_only=True, dtype=torch.float32
    )
    with quiet_peft():
        merged = PeftModel.from_pretrained(
            base, str(adapter_dir), local_files_only=True
        ).merge_and_unload()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir, local_files_only=True).save_pretrained(out)
    return out


__all__ = [
    "STATS_FILE",
    "ChatExample",
    "FinetuneStats",
    "LoraRunConfig",
    "atomic_directory",
    "lora_finetune",
    "merge_lora",
    "quiet_peft",
]
