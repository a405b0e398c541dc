"""The embedding classifier's heads: a logistic regression (harmful or not) and one-vs-rest
logistic regressions over hazard categories, on standardized features of one encoder layer, in
numpy, stored as a small `.npz` file.

Training is full-batch Newton with L2 regularisation: a few thousand 384-d rows train in
seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from releasegate._util.files import file_sha256

F = npt.NDArray[np.float64]


def _sigmoid(z: F) -> F:
    out: F = 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free
    return out


def fit_logistic(x: F, y: F, l2: float = 1.0, iters: int = 30) -> tuple[F, float]:
    """Binary logistic regression by Newton's method (bias not regularised).

    Args:
        x: features (n, d).
        y: labels in {0, 1} (n,).
        l2: L2 penalty on the weights.
        iters: Newton steps (it converges in far fewer on embeddings).

    Returns:
        (weights (d,), bias).
    """
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = _sigmoid(xb @ w)
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit_one_vs_rest(x: F, y: npt.NDArray[np.int64], k: int, l2: float) -> F:
    """One logistic regression per class (class vs the others); returns weights (k, d+1)."""
    rows = []
    for c in range(k):
        w, b = fit_logistic(x, (y == c).astype(np.float64), l2=l2)
        rows.append(np.append(w, b))
    return np.array(rows)


@dataclass
class LinearHeads:
    """Weights of the embedding classifier."""

    w: F
    b: float
    threshold: float
    categories: list[str]
    cat_w: F  # (len(categories), d + 1), one-vs-rest
    layer: int  # encoder layer whose mean-pooled hidden state is the feature vector
    mu: F  # feature means and standard deviations (standardization)
    sd: F
    meta: dict[str, Any] = field(default_factory=dict)
    path: str = ""  # where the heads were loaded from, and that file's SHA-256 (`load`)
    sha256: str = ""
    adapters: dict[str, F] = field(default_factory=dict)
    """LoRA adapters of the encoder (`lora/LAYER/MODULE/A|B`), when the encoder was fine-tuned
    (`scripts/train_guard_lora.py`); empty for the plain encoder."""

    def standardize(self, feats: npt.NDArray[np.floating[Any]]) -> F:
        out: F = (feats.astype(np.float64) - self.mu) / self.sd
        return out

    def harm_prob(self, feats: npt.NDArray[np.floating[Any]]) -> F:
        """P(harmful) per row of raw (unstandardized) features."""
        return _sigmoid(self.standardize(feats) @ self.w + self.b)

    def category_probs(self, feats: npt.NDArray[np.floating[Any]]) -> F:
        """Category shares per row (one-vs-rest probabilities, normalized to sum to 1)."""
        p = _sigmoid(self.standardize(feats) @ self.cat_w[:, :-1].T + self.cat_w[:, -1])
        out: F = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-12)
        return out

    def save(self, path: Path) -> None:
        """Write the heads to an `.npz` file (atomically: temp file, then rename)."""
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp,
            w=self.w.astype(np.float32),
            b=np.array(self.b),
            threshold=np.array(self.threshold),
            cat_w=self.cat_w.astype(np.float32),
            layer=np.array(self.layer),
            mu=self.mu.astype(np.float32),
            sd=self.sd.astype(np.float32),
            categories=np.array(self.categories),
            meta=np.array(json.dumps(self.meta, sort_keys=True)),
        )
        tmp.replace(path)

    def validate(self) -> None:
        """Check that these heads can judge: every number finite, the threshold in (0, 1],
        standard deviations positive, shapes consistent, categories known.

        Raises:
            ValueError: naming the first field at fault (a NaN threshold would pass every text).
        """
        d = self.w.shape[0] if self.w.ndim == 1 else -1
        if d <= 0:
            raise ValueError(f"w: expected a vector, got shape {self.w.shape}")
        for name, value in (("b", self.b), ("threshold", self.threshold)):
            if not np.isfinite(value):
                raise ValueError(f"{name}: {value!r} is not a finite number")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold: {self.threshold!r} is not in (0, 1]")
        for name, arr, shape in (
            ("w", self.w, (d,)),
            ("mu", self.mu, (d,)),
            ("sd", self.sd, (d,)),
            ("cat_w", self.cat_w, (len(self.categories), d + 1)),
        ):
            if arr.shape != shape:
                raise ValueError(f"{name}: shape {arr.shape}, expected {shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"{name}: holds NaN or infinite values")
        if not (self.sd > 0).all():
            raise ValueError("sd: standard deviations must be positive")
        if self.layer < 0:
            raise ValueError(f"layer: {self.layer} is negative")
        for name, arr in self.adapters.items():
            if not name.startswith("lora/") or name.count("/") != 3 or arr.ndim != 2:
                raise ValueError(f"{name}: not a LoRA matrix")
            if not np.isfinite(arr).all():
                raise ValueError(f"{name}: holds NaN or infinite values")
            pair = name[:-1] + ("B" if name.endswith("A") else "A")
            if pair not in self.adapters:
                raise ValueError(f"{name}: its pair {pair} is missing")
        known = {f"S{i}" for i in range(1, 15)}
        bad = [c for c in self.categories if c not in known]
        if bad:
            raise ValueError(f"categories: unknown {bad} (expected S1..S14)")

    @classmethod
    def load(cls, path: Path) -> LinearHeads:
        """Read heads written by `save`, validated (`validate`), with the file's SHA-256.

        Raises:
            ValueError: the file's contents are unusable (see `validate`).
            OSError, KeyError: the file is missing or not a weight file.
        """
        with np.load(path, allow_pickle=False) as z:
            heads = cls(
                w=z["w"].astype(np.float64),
                b=float(z["b"]),
                threshold=float(z["threshold"]),
                categories=[str(c) for c in z["categories"]],
                cat_w=z["cat_w"].astype(np.float64),
                layer=int(z["layer"]),
                mu=z["mu"].astype(np.float64),
                sd=z["sd"].astype(np.float64),
                meta=json.loads(str(z["meta"])),
                adapters={k: z[k].astype(np.float64) for k in z.files if k.startswith("lora/")},
            )
        heads.validate()
        heads.path = str(path)
        heads.sha256 = file_sha256(path)
        return heads
