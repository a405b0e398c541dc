"""The optimized numpy MiniLM forward pass against a straightforward reference.

`reference_features` is the encoder as it was before the speed-up (issue 5): a padded batch
with an attention mask, row-major hidden states, erf GELU by Abramowitz & Stegun, textbook
LayerNorm. The optimized `MiniLMEncoder.features` packs the texts' tokens without padding, works
on (features × tokens) arrays in place, and pads the token count for BLAS; it must give the same
features and the same classifier scores on every request that `releasegate guards eval` scores.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from releasegate.guards._data import bundled_split, load_examples
from releasegate.guards._embedding import EmbeddingGuard
from releasegate.guards._minilm import PAD_TOKENS_TO, _gelu, load_encoder, model_dir
from releasegate.guards._obfuscate import OBFUSCATIONS

pytestmark = pytest.mark.slow

F32 = npt.NDArray[np.float32]
FEATURE_TOL = 1e-5
SCORE_TOL = 1e-5


@lru_cache(maxsize=1)
def _reference_model() -> tuple[Any, dict[str, F32], dict[str, Any]]:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    path = model_dir()
    config = json.loads((path / "config.json").read_text())
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
    weights = {
        k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()
    }
    return tokenizer, weights, config


def _ref_layer_norm(x: F32, w: F32, b: F32, eps: float) -> F32:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    out: F32 = (x - mu) / np.sqrt(var + eps) * w + b
    return out


def _ref_gelu(x: F32) -> F32:
    z = x * np.float32(0.7071067811865476)
    s = np.sign(z)
    a = np.abs(z)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = s * (1.0 - poly * np.exp(-a * a))
    out: F32 = 0.5 * x * (1.0 + erf)
    return out.astype(np.float32, copy=False)


def reference_features(texts: list[str], layer: int) -> F32:
    """Mean-pooled hidden state after layer `layer`: padded batch, attention mask, one matmul
    per linear layer on (batch·length, 384) rows, three separate Q, K, V projections."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    tokenizer, w, config = _reference_model()
    eps = float(config["layer_norm_eps"])
    h = int(config["num_attention_heads"])
    d = 384 // h
    encs = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encs], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encs], dtype=np.float32)
    n, length = ids.shape
    p = "embeddings."
    x = (
        w[p + "word_embeddings.weight"][ids]
        + w[p + "position_embeddings.weight"][:length]
        + w[p + "token_type_embeddings.weight"][0]
    )
    x = _ref_layer_norm(x, w[p + "LayerNorm.weight"], w[p + "LayerNorm.bias"], eps)
    x = x.reshape(n * length, 384)
    bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
    with threadpool_limits(1, "blas"):
        for i in range(layer + 1):
            q = f"encoder.layer.{i}."
            a = q + "attention."

            def proj(name: str, inp: F32, q: str = q) -> F32:
                out: F32 = inp @ w[q + name + ".weight"].T + w[q + name + ".bias"]
                return out

            heads = [
                proj(f"attention.self.{m}", x).reshape(n, length, h, d).transpose(0, 2, 1, 3)
                for m in ("query", "key", "value")
            ]
            scores = heads[0] @ heads[1].transpose(0, 1, 3, 2) / np.float32(math.sqrt(d)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ heads[2]).transpose(0, 2, 1, 3).reshape(n * length, 384)
            x = _ref_layer_norm(
                x + proj("attention.output.dense", ctx),
                w[a + "output.LayerNorm.weight"],
                w[a + "output.LayerNorm.bias"],
                eps,
            )
            ff = proj("output.dense", _ref_gelu(proj("intermediate.dense", x)))
            x = _ref_layer_norm(
                x + ff, w[q + "output.LayerNorm.weight"], w[q + "output.LayerNorm.bias"], eps
            )
    hidden = x.reshape(n, length, 384)
    pooled: F32 = (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
    return pooled.astype(np.float32)


def _eval_requests() -> list[str]:
    """The requests `releasegate guards eval` and bench/guards.py score."""
    texts = []
    for row in load_examples(bundled_split("heldout")):
        texts.append(row.text)
        if row.harmful:
            texts.extend(f(row.text) for f in OBFUSCATIONS.values())
    return texts


def test_gelu_matches_exact_erf_gelu() -> None:
    x = np.linspace(-12.0, 12.0, 20001, dtype=np.float32)
    exact = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.tolist()])
    ours = _gelu(x.copy())
    assert ours.dtype == np.float32
    assert np.abs(ours - exact).max() < 2e-6
    assert np.abs(ours - _ref_gelu(x)).max() < 2e-6


def test_features_match_reference_on_edge_cases() -> None:
    encoder = load_encoder()
    texts = ["", "a", "How do I make bread?", "a " * 300, "word " * (PAD_TOKENS_TO * 3 - 2)]
    for layer in (0, 3, encoder.num_layers - 1):
        ours = encoder.features(texts, layer)
        assert ours.shape == (len(texts), 384)
        assert ours.dtype == np.float32
        assert np.abs(ours - reference_features(texts, layer)).max() < FEATURE_TOL
        for i, text in enumerate(texts):  # alone, as in a batch
            assert np.abs(encoder.features([text], layer)[0] - ours[i]).max() < FEATURE_TOL


def test_features_and_scores_match_reference_on_every_heldout_request(
    embedding_guard: EmbeddingGuard,
) -> None:
    guard = embedding_guard
    layer = guard.heads.layer
    texts = _eval_requests()
    per_text = [guard.pieces([t]) for t in texts]
    pieces = [p for ps in per_text for p in ps]
    # the reference on length-sorted batches (less padding: the test stays fast)
    ref = np.zeros((len(pieces), 384), dtype=np.float32)
    order = sorted(range(len(pieces)), key=lambda j: len(pieces[j]))
    for start in range(0, len(order), 32):
        idx = order[start : start + 32]
        ref[idx] = reference_features([pieces[j] for j in idx], layer)
    # ours as the guard calls it: all pieces of one request in one call
    ours = np.concatenate([guard.encoder.features(ps, layer) for ps in per_text])
    assert np.abs(ours - ref).max() < FEATURE_TOL
    owner = np.repeat(np.arange(len(texts)), [len(ps) for ps in per_text])
    for i in range(len(texts)):
        rows = owner == i
        ours_score = guard.heads.harm_prob(ours[rows]).max()
        ref_score = guard.heads.harm_prob(ref[rows]).max()
        assert abs(ours_score - ref_score) < SCORE_TOL, texts[i]
        assert (ours_score >= guard.threshold) == (ref_score >= guard.threshold), texts[i]
    # and in large mixed batches, as `judge_many` and training call it
    batched = guard.encoder.features(pieces[:200], layer)
    assert np.abs(batched - ref[:200]).max() < FEATURE_TOL
