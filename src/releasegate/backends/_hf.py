"""`hf:PATH` — a local transformers causal LM (CPU, or CUDA when present).

Generation is a small decode loop of our own over the model's KV cache rather than
`model.generate`, because the backend needs four things at once that `generate` does not give
together: per-request seeded sampling that is the same inside a batch as alone, raw-model token
logprobs, OpenAI-style stop strings, and text increments for streaming without an extra thread.

All model work runs on one worker thread per backend (torch releases the GIL, the event loop stays
free) and under a lock, so concurrent requests queue instead of interleaving on the model.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from releasegate.backends._base import (
    BackendError,
    ChatMessage,
    Generation,
    GenerationParams,
    HiddenStates,
    LensToken,
    LogitLens,
    StreamChunk,
    TokenLogprob,
)
from releasegate.backends._offline import force_offline
from releasegate.backends._torch import quiet_peft, release_memory, resolve_device
from releasegate.errors import InputError, Problem

if TYPE_CHECKING:
    import numpy as np
    import torch

_T = TypeVar("_T")
# Sequences scored together in one forward pass by choice_logprobs_many.
_SCORE_BATCH = 16


@dataclass
class _Row:
    """The decoding state of one sequence of a batch."""

    prompt_len: int
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    emitted: int = 0  # characters of `text` already streamed
    done: bool = False
    finish_reason: Literal["stop", "length"] = "length"
    sampled: int = 0
    logprobs: list[TokenLogprob] = field(default_factory=list)


class HFBackend:
    """A local transformers causal LM behind the `ModelBackend` contract.

    Args:
        model_dir: a transformers model directory (config, weights, tokenizer).
        name: the spec reported by `name` (default `hf:<model_dir>`).
        device: 'auto', 'cpu', 'cuda' or 'cuda:N'.
        adapter_dir: an optional peft LoRA adapter, merged into the weights at load.
        batch_size: sequences decoded together by `generate_batch`.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        name: str | None = None,
        device: str = "auto",
        adapter_dir: str | Path | None = None,
        batch_size: int = 8,
    ) -> None:
        force_offline()
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._dir = Path(model_dir)
        self._name = name or f"hf:{model_dir}"
        self._device = resolve_device(device)
        self._batch_size = max(1, batch_size)
        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self._dir, local_files_only=True)
            model: Any = AutoModelForCausalLM.from_pretrained(
                self._dir, local_files_only=True, dtype=torch.float32
            )
            if adapter_dir is not None:
                from peft import PeftModel

                with quiet_peft():
                    model = PeftModel.from_pretrained(
                        model, str(adapter_dir), local_files_only=True
                    ).merge_and_unload()
        except (OSError, ValueError) as exc:
            raise BackendError(f"could not load the model at {self._dir}: {exc}") from exc
        self._model: Any = model.to(self._device).eval()
        config = self._model.config
        self._num_layers = int(config.num_hidden_layers)
        self._hidden_size = int(config.hidden_size)
        self._max_positions = int(getattr(config, "max_position_embeddings", 0) or 0)
        eos: set[int] = set()
        for source in (self._model.generation_config.eos_token_id, self._tokenizer.eos_token_id):
            if isinstance(source, int):
                eos.add(source)
            elif isinstance(source, list):
                eos.update(int(i) for i in source)
        self._eos = eos
        pad = self._tokenizer.pad_token_id
        self._pad = int(pad if pad is not None else min(eos) if eos else 0)
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="releasegate-hf")
        self._closed = False

    # -- properties ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def model_dir(self) -> Path:
        return self._dir

    @property
    def model(self) -> Any:
        """The underlying transformers model (for research primitives; hold `lock` to use it)."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def lock(self) -> threading.Lock:
        """Held around every use of the model; take it to use `model` directly."""
        return self._lock

    @property
    def device(self) -> str:
        return self._device

    @property
    def num_layers(self) -> int:
        return self._num_layers

    @property
    def hidden_size(self) -> int:
        return self._hidden_size

    # -- ModelBackend ---------------------------------------------------------------------------

    async def chat(self, messages: Sequence[ChatMessage], params: GenerationParams) -> Generation:
        ids = self.chat_prompt_ids(messages)
        return (await self._run(self._generate_sync, [ids], params))[0]

    async def generate_batch(
        self, conversations: Sequence[Sequence[ChatMessage]], params: GenerationParams
    ) -> list[Generation]:
        """Answer many conversations, decoding up to `batch_size` of them together.

        With the same seed, each answer equals what `chat` gives for that conversation alone
        (up to floating-point differences from padding).
        """
        prompts = [self.chat_prompt_ids(m) for m in conversations]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[Generation | None] = [None] * len(prompts)
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            outs = await self._run(self._generate_sync, [prompts[i] for i in chunk], params)
            for index, out in zip(chunk, outs, strict=True):
                results[index] = out
        return [r for r in results if r is not None]

    async def stream_chat(
        self, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        ids = self.chat_prompt_ids(messages)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: tuple[str, Any]) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: the consumer left
                cancel.set()

        def work() -> None:
            try:
                with self._lock:
                    out = self._generate_locked(
                        [ids], params, on_text=lambda t: put(("text", t)), cancel=cancel
                    )[0]
                put(("done", out))
            except BaseException as exc:  # handed to the consumer, re-raised there
                put(("error", exc))

        self._check_open()
        loop.run_in_executor(self._executor, work)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    yield StreamChunk(text=value)
                elif kind == "done":
                    yield StreamChunk(
                        text="",
                        finish_reason=value.finish_reason,
                        prompt_tokens=value.prompt_tokens,
                        completion_tokens=value.completion_tokens,
                    )
                    return
                else:
                    error = _as_backend_error(value)
                    if error is value:
                        raise error
                    raise error from value
        finally:
            cancel.set()  # stop decoding when the consumer stops early

    async def complete(self, prompt: str, params: GenerationParams) -> Generation:
        ids = self._encode(prompt, special=True)
        return (await self._run(self._generate_sync, [ids], params))[0]

    async def choice_logprobs(self, prompt: str, choices: Sequence[str]) -> list[float]:
        return (await self.choice_logprobs_many([(prompt, choices)]))[0]

    async def choice_logprobs_many(
        self, items: Sequence[tuple[str, Sequence[str]]]
    ) -> list[list[float]]:
        """`choice_logprobs` for many questions, scored in batched forward passes."""
        return await self._run(self._choice_logprobs_sync, items)

    async def aclose(self) -> None:
        """Stop taking requests and free the model's memory (after the request on the model, if
        any, has finished)."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._release)

    def _release(self) -> None:
        with self._lock:
            self._model = None
        release_memory()

    # -- research primitives (local only) -------------------------------------------------------

    async def hidden_states(
        self,
        text: str,
        layers: Sequence[int] | None = None,
        pool: Literal["none", "mean", "last"] = "none",
    ) -> HiddenStates:
        """Residual-stream activations of `text` at `layers` (all when None).

        Layer 0 is the embedding output and layer L (1..num_layers) the output of decoder block
        L, before the final norm; negative indices count from the end. `pool` keeps every token
        ('none'), averages them ('mean') or keeps the last one ('last').
        """
        return await self._run(self._hidden_states_sync, text, layers, pool)

    async def logit_lens(
        self, text: str, layers: Sequence[int] | None = None, top_k: int = 5
    ) -> LogitLens:
        """Top-k next-token predictions read from each layer through the final norm and
        unembedding; at the last layer they are exactly the model's own predictions."""
        return await self._run(self._logit_lens_sync, text, layers, top_k)

    async def steer_generate(
        self,
        messages: Sequence[ChatMessage],
        layer: int,
        vector: Sequence[float] | np.ndarray | torch.Tensor,
        scale: float,
        params: GenerationParams,
    ) -> Generation:
        """Generate while adding `scale * vector` to the residual stream at `layer`.

        Activation addition (Turner et al. 2023): the vector is added to the output of decoder
        block `layer` (layer 0: the embedding output) at every position, prompt and generated.
        """
        ids = self.chat_prompt_ids(messages)
        return await self._run(self._steer_sync, ids, layer, vector, scale, params)

    # -- prompts --------------------------------------------------------------------------------

    def chat_prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Token ids of a conversation rendered by the model's chat template, ready to answer."""
        payload = [{"role": m.role, "content": m.content} for m in messages]
        if getattr(self._tokenizer, "chat_template", None):
            text = self._tokenizer.apply_chat_template(
                payload, add_generation_prompt=True, tokenize=False
            )
        else:  # a base model without a template: a plain transcript still lets it answer
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in payload)
            text += "Assistant:"
        return self._encode(str(text), special=False)

    def text_ids(self, text: str) -> list[int]:
        """Token ids of `text` as `hidden_states` and `logit_lens` see it (special tokens
        included), so a caller can size a research request before running it."""
        return self._encode(text, special=True)

    def _encode(self, text: str, *, special: bool) -> list[int]:
        ids = self._tokenizer(text, add_special_tokens=special)["input_ids"]
        return [int(i) for i in ids]

    def _decode(self, ids: Sequence[int]) -> str:
        return str(self._tokenizer.decode(list(ids), skip_special_tokens=False))

    # -- worker-thread plumbing -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"{self._name}: backend is closed")

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        self._check_open()

        def locked() -> _T:
            with self._lock:
                return fn(*args)

        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, locked)
        except (InputError, BackendError):
            raise
        except Exception as exc:
            raise _as_backend_error(exc) from exc

    # -- generation ---------------------------------------------------------------------------

    def _generate_sync(
        self, prompts: Sequence[Sequence[int]], params: GenerationParams
    ) -> list[Generation]:
        return self._generate_locked(prompts, params)

    def _generate_locked(
        self,
        prompts: Sequence[Sequence[int]],
        params: GenerationParams,
        *,
        on_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Generation]:
        import torch
        from transformers import DynamicCache

        longest = max(len(p) for p in prompts)
        if self._max_positions and longest + params.max_tokens > self._max_positions:
            raise InputError(
                self._name,
                [
                    Problem(
                        f"prompt ({longest} tokens) plus max_tokens ({params.max_tokens}) exceeds "
                        f"the model's context of {self._max_positions} tokens"
                    )
                ],
            )
        rows = [_Row(prompt_len=len(p)) for p in prompts]
        want_logprobs = params.logprobs or params.top_logprobs > 0
        generators = [self._generator(params.seed) for _ in prompts]
        stop_hold = max((len(s) for s in params.stop), default=0)

        with torch.inference_mode():
            input_ids, mask = self._left_pad(prompts)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            cache = DynamicCache(config=self._model.config)
            logits = self._model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            ).logits[:, -1, :]
            for _ in range(params.max_tokens):
                if cancel is not None and cancel.is_set():
                    break
                logits = logits.float().cpu()
                chosen = self._choose(logits, params, generators, rows)
                logp = torch.log_softmax(logits, dim=-1) if want_logprobs else None
                for i, row in enumerate(rows):
                    if row.done:
                        continue
                    token = int(chosen[i])
                    row.sampled += 1
                    if token in self._eos:
                        row.done, row.finish_reason = True, "stop"
                        continue
                    row.tokens.append(token)
                    if logp is not None:
                        row.logprobs.append(self._token_logprob(logp[i], token, params))
                    self._extend_text(row, params.stop, stop_hold, on_text)
                if all(row.done for row in rows):
                    break
                feed = torch.tensor(
                    [[self._pad if row.done else row.tokens[-1]] for row in rows],
                    device=self._device,
                )
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
                positions = positions[:, -1:] + 1
                logits = self._model(
                    input_ids=feed,
                    attention_mask=mask,
                    position_ids=positions,
                    cache=cache,
                    use_cache=True,
                ).logits[:, -1, :]
        out = []
        for row in rows:
            if on_text is not None and row.emitted < len(row.text):
                on_text(row.text[row.emitted :])  # flush what was held back for stop strings
            out.append(
                Generation(
                    text=row.text,
                    finish_reason=row.finish_reason if row.done else "length",
                    prompt_tokens=row.prompt_len,
                    completion_tokens=row.sampled,
                    logprobs=row.logprobs if want_logprobs else None,
                )
            )
        return out

    def _left_pad(self, prompts: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        longest = max(len(p) for p in prompts)
        ids = [[self._pad] * (longest - len(p)) + list(p) for p in prompts]
        mask = [[0] * (longest - len(p)) + [1] * len(p) for p in prompts]
        return (
            torch.tensor(ids, device=self._device),
            torch.tensor(mask, device=self._device),
        )

    def _generator(self, seed: int | None) -> torch.Generator:
        import torch

        generator = torch.Generator(device="cpu")
        generator.manual_seed(seed if seed is not None else int.from_bytes(os.urandom(8), "big"))
        return generator

    @staticmethod
    def _choose(
        logits: torch.Tensor,
        params: GenerationParams,
        generators: list[torch.Generator],
        rows: list[_Row],
    ) -> list[int]:
        import torch

        if params.temperature == 0.0:  # greedy: deterministic
            return [int(t) for t in torch.argmax(logits, dim=-1)]
        probs = torch.softmax(logits / params.temperature, dim=-1)
        chosen = []
        for i, row in enumerate(rows):
            if row.done:
                chosen.append(0)
                continue
            p = probs[i]
            if params.top_p < 1.0:  # nucleus: keep the smallest set whose mass reaches top_p
                sorted_p, order = torch.sort(p, descending=True)
                keep = (torch.cumsum(sorted_p, dim=-1) - sorted_p) < params.top_p
                p = torch.zeros_like(p).scatter(0, order[keep], sorted_p[keep])
            # One generator per row: a seeded answer is the same alone or inside a batch.
            chosen.append(int(torch.multinomial(p, 1, generator=generators[i])))
        return chosen

    def _token_logprob(
        self, logp: torch.Tensor, token: int, params: GenerationParams
    ) -> TokenLogprob:
        import torch

        top: dict[str, float] = {}
        if params.top_logprobs > 0:
            values, ids = torch.topk(logp, params.top_logprobs)
            for value, tid in zip(values.tolist(), ids.tolist(), strict=True):
                top.setdefault(self._decode([tid]), float(value))
        return TokenLogprob(token=self._decode([token]), logprob=float(logp[token]), top=top)

    def _extend_text(
        self,
        row: _Row,
        stops: Sequence[str],
        stop_hold: int,
        on_text: Callable[[str], None] | None,
    ) -> None:
        before = len(row.text)
        row.text = self._decode(row.tokens)
        if stops:
            start = max(0, before - stop_hold)
            hits = [i for i in (row.text.find(s, start) for s in stops) if i >= 0]
            if hits:
                row.text = row.text[: min(hits)]
                row.done, row.finish_reason = True, "stop"
        if on_text is None:
            return
        if row.done:
            ready = len(row.text)
        else:
            # Hold back an incomplete UTF-8 character and any tail that may begin a stop string.
            ready = len(row.text.rstrip("\ufffd"))
            for stop in stops:
                for k in range(min(len(stop) - 1, ready), 0, -1):
                    if row.text[:ready].endswith(stop[:k]):
                        ready -= k
                        break
        if ready > row.emitted:
            on_text(row.text[row.emitted : ready])
            row.emitted = ready

    # -- scoring ------------------------------------------------------------------------------

    def _choice_logprobs_sync(
        self, items: Sequence[tuple[str, Sequence[str]]]
    ) -> list[list[float]]:
        import torch

        # Each (context, continuation) is tokenized apart and concatenated, so a choice's tokens
        # are the same whatever the context ends with; trailing spaces of the context move to
        # the continuation, where a tokenizer expects them (as lm-evaluation-harness does).
        seqs: list[tuple[list[int], list[int]]] = []
        for prompt, choices in items:
            stripped = prompt.rstrip(" ")
            spaces = " " * (len(prompt) - len(stripped))
            context = self._encode(stripped, special=True)
            for choice in choices:
                seqs.append((context, self._encode(spaces + choice, special=False)))
        scores: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(seqs), _SCORE_BATCH):
                batch = seqs[start : start + _SCORE_BATCH]
                full = [c + k for c, k in batch]
                longest = max(len(f) for f in full)
                ids = torch.tensor(
                    [f + [self._pad] * (longest - len(f)) for f in full], device=self._device
                )
                mask = torch.tensor(
                    [[1] * len(f) + [0] * (longest - len(f)) for f in full], device=self._device
                )
                logp = torch.log_softmax(
                    self._model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1
                )
                for row, (context, cont) in enumerate(batch):
                    if not cont:
                        scores.append(0.0)
                        continue
                    # logits at position t predict token t+1
                    where = torch.arange(
                        len(context) - 1, len(context) + len(cont) - 1, device=self._device
                    )
                    target = torch.tensor(cont, device=self._device)
                    scores.append(float(logp[row, where, target].sum()))
        out: list[list[float]] = []
        position = 0
        for _, choices in items:
            out.append(scores[position : position + len(choices)])
            position += len(choices)
        return out

    # -- research -----------------------------------------------------------------------------

    def _layers(self) -> Any:
        return self._model.get_decoder().layers

    def _check_layers(self, layers: Sequence[int] | None) -> list[int]:
        count = self._num_layers
        if layers is None:
            return list(range(count + 1))
        resolved = []
        for layer in layers:
            index = layer + count + 1 if layer < 0 else layer
            if not 0 <= index <= count:
                raise InputError(
                    self._name,
                    [Problem(f"layer {layer} out of range: the model has layers 0..{count}")],
                )
            resolved.append(index)
        return resolved

    def _capture(self, ids: list[int], layers: list[int]) -> dict[int, torch.Tensor]:
        """Run the model once and return the residual stream at `layers` (each (tokens, hidden))."""
        import torch

        captured: dict[int, torch.Tensor] = {}
        handles = []

        def keep(index: int) -> Callable[..., None]:
            def hook(_module: Any, _inputs: Any, output: Any) -> None:
                tensor = output[0] if isinstance(output, tuple) else output
                captured[index] = tensor[0].detach().float().cpu()

            return hook

        wanted = set(layers)
        if 0 in wanted:
            handles.append(self._model.get_input_embeddings().register_forward_hook(keep(0)))
        for index, module in enumerate(self._layers(), start=1):
            if index in wanted:
                handles.append(module.register_forward_hook(keep(index)))
        try:
            with torch.inference_mode():
                self._model(input_ids=torch.tensor([ids], device=self._device))
        finally:
            for handle in handles:
                handle.remove()
        return captured

    def _text_ids(self, text: str) -> list[int]:
        ids = self.text_ids(text)
        if not ids:
            raise InputError(self._name, [Problem("text is empty: it has no tokens")])
        return ids

    def _hidden_states_sync(
        self, text: str, layers: Sequence[int] | None, pool: str
    ) -> HiddenStates:
        ids = self._text_ids(text)
        wanted = self._check_layers(layers)
        captured = self._capture(ids, wanted)
        result: dict[int, np.ndarray] = {}
        for layer in wanted:
            tensor = captured[layer]
            if pool == "mean":
                tensor = tensor.mean(dim=0)
            elif pool == "last":
                tensor = tensor[-1]
            elif pool != "none":
                raise InputError(self._name, [Problem(f"unknown pooling {pool!r}")])
            result[layer] = tensor.numpy()
        return HiddenStates(tokens=[self._decode([i]) for i in ids], layers=result)

    def _logit_lens_sync(self, text: str, layers: Sequence[int] | None, top_k: int) -> LogitLens:
        import torch

        if not 1 <= top_k <= 100:
            raise InputError(self._name, [Problem(f"top_k must be 1..100, got {top_k}")])
        ids = self._text_ids(text)
        wanted = self._check_layers(layers)
        captured = self._capture(ids, wanted)
        norm = self._model.get_decoder().norm
        head = self._model.get_output_embeddings()
        result: dict[int, list[list[LensToken]]] = {}
        with torch.inference_mode():
            for layer in wanted:
                hidden = captured[layer].to(self._device)
                probs = torch.softmax(head(norm(hidden)).float(), dim=-1)
                values, indices = torch.topk(probs, top_k, dim=-1)
                result[layer] = [
                    [LensToken(self._decode([t]), float(v)) for v, t in zip(vs, ts, strict=True)]
                    for vs, ts in zip(values.tolist(), indices.tolist(), strict=True)
                ]
        return LogitLens(tokens=[self._decode([i]) for i in ids], layers=result)

    def _steer_sync(
        self,
        ids: list[int],
        layer: int,
        vector: Sequence[float] | np.ndarray | torch.Tensor,
        scale: float,
        params: GenerationParams,
    ) -> Generation:
        import torch

        (index,) = self._check_layers([layer])
        direction = torch.as_tensor(vector, dtype=torch.float32).flatten()
        if direction.shape != (self._hidden_size,):
            raise InputError(
                self._name,
                [
                    Problem(
                        f"steering vector has {direction.numel()} values; the model's hidden "
                        f"size is {self._hidden_size}"
                    )
                ],
            )
        delta = (direction * float(scale)).to(self._device, self._model.dtype)

        def add(_module: Any, _inputs: Any, output: Any) -> Any:
            if isinstance(output, tuple):
                return (output[0] + delta, *output[1:])
            return output + delta

        module = self._model.get_input_embeddings() if index == 0 else self._layers()[index - 1]
        handle = module.register_forward_hook(add)
        try:
            return self._generate_locked([ids], params)[0]
        finally:
            handle.remove()


def _as_backend_error(exc: BaseException) -> BaseException:
    if isinstance(exc, InputError | BackendError):
        return exc
    text = str(exc)
    if "out of memory" in text.lower():
        return BackendError(f"the model ran out of memory: {text}")
    return BackendError(f"local model failed: {type(exc).__name__}: {text}")


__all__ = ["HFBackend", "HiddenStates", "LensToken", "LogitLens", "resolve_device"]
