"""Training the classifier judge, with every choice made by cross-validation on `train` alone.

The test split holds models and prompts the judge never saw, so the choices are made the same
way: **leave one source out**. Each fold holds out every response of one source (a model, or a
hand-written set) and, from the rows it trains on, every response to a prompt that source
answered; it is scored on the held-out source. The feature set (MiniLM layer, opening embedding,
phrase features), the L2 strength and the threshold are the ones with the best pooled
out-of-fold Cohen's κ. The test split is never read here.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from releasegate.judge._agreement import cohen_kappa
from releasegate.judge._base import Exchange, refused_label
from releasegate.judge._classifier import (
    NAME,
    ClassifierWeights,
    FeatureSpec,
    _sigmoid,
    feature_blocks,
)
from releasegate.judge._labels import LabelledRow

F = npt.NDArray[np.float64]
LAYERS = (2, 3)
L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.30, 0.71, 0.05))


@dataclass(frozen=True)
class CVResult:
    spec: FeatureSpec
    l2: float
    threshold: float
    kappa: float
    fold_kappas: dict[str, float | None]


def folds(rows: Sequence[LabelledRow]) -> list[tuple[str, list[int], list[int]]]:
    """Leave-one-source-out folds: (source, train indices, held-out indices)."""
    sources = sorted({r.source or "unknown" for r in rows})
    out = []
    for source in sources:
        held = [i for i, r in enumerate(rows) if (r.source or "unknown") == source]
        prompts = {rows[i].prompt_id or rows[i].prompt for i in held}
        train = [
            i
            for i, r in enumerate(rows)
            if (r.source or "unknown") != source and (r.prompt_id or r.prompt) not in prompts
        ]
        out.append((source, train, held))
    return out


def _standardize(x: F) -> tuple[F, F]:
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    sd[sd < 1e-6] = 1.0
    return mu, sd


def fit_logistic(x: F, y: F, l2: float) -> tuple[F, float]:
    """L2-regularised logistic regression by L-BFGS (bias not regularised).

    With more features (~800) than rows (a few hundred), a gradient method is far cheaper than
    Newton's method, whose Hessian alone would cost d² per row.
    """
    from scipy.optimize import minimize

    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0

    def loss(w: F) -> tuple[float, F]:
        z = xb @ w
        # log(1 + e^z) - y z, computed without overflow
        value = float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(reg * w * w))
        grad = xb.T @ (_sigmoid(z) - y) + reg * w
        return value, grad

    result = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    w: F = result.x
    return w[:-1], float(w[-1])


def _fit(x: F, y: F, l2: float) -> tuple[F, float, F, F]:
    mu, sd = _standardize(x)
    w, b = fit_logistic((x - mu) / sd, y, l2)
    return w, b, mu, sd


def _cross_validate(
    x: F, y: F, plan: list[tuple[str, list[int], list[int]]], l2: float
) -> tuple[F, dict[str, list[int]]]:
    """Out-of-fold probabilities for every row (each row is held out by exactly one fold)."""
    oof = np.zeros(len(y))
    held_by: dict[str, list[int]] = {}
    for source, train, held in plan:
        w, b, mu, sd = _fit(x[train], y[train], l2)
        oof[held] = _sigmoid(((x[held] - mu) / sd) @ w + b)
        held_by[source] = held
    return oof, held_by


def _kappa(y: F, p: F, threshold: float) -> float:
    k = cohen_kappa([bool(v) for v in y], [bool(v) for v in p >= threshold])
    return k if k is not None else -1.0


def _search(
    spec: FeatureSpec,
    x: F,
    y: F,
    plan: list[tuple[str, list[int], list[int]]],
    l2_grid: Sequence[float],
    results: list[CVResult],
    log: Callable[[str], None],
) -> None:
    """Cross-validate one feature set at every L2 strength, appending to `results`."""
    for l2 in l2_grid:
        oof, held_by = _cross_validate(x, y, plan, l2)
        threshold = max(THRESHOLDS, key=lambda t: (_kappa(y, oof, t), -abs(t - 0.5)))
        fold_kappas = {
            source: cohen_kappa([bool(v) for v in y[idx]], [bool(v) for v in oof[idx] >= threshold])
            for source, idx in held_by.items()
        }
        result = CVResult(spec, l2, threshold, _kappa(y, oof, threshold), fold_kappas)
        results.append(result)
        log(
            f"layer {spec.layer} {'+'.join(spec.blocks):28} l2 {l2:5g}: kappa "
            f"{result.kappa:.3f} at {threshold:.2f} "
            + " ".join(
                f"{s}={k:.2f}" if k is not None else f"{s}=n/a" for s, k in fold_kappas.items()
            )
        )


def train_classifier(
    rows: Sequence[LabelledRow],
    encoder: Any,
    *,
    layers: Sequence[int] = LAYERS,
    l2_grid: Sequence[float] = L2_GRID,
    log: Callable[[str], None] = lambda message: None,
    data_sha256: str | None = None,
) -> ClassifierWeights:
    """Choose features, L2 strength and threshold by leave-one-source-out CV, then fit on all rows.

    The feature sets tried: every non-empty choice of the response's embedding, the hand
    features and the sentence features, at each layer (the opening's embedding was dropped after
    it never won in earlier runs).

    Args:
        rows: the training rows (never the test split).
        encoder: a `releasegate.guards.MiniLMEncoder`.
        layers: MiniLM layers to try.
        l2_grid: L2 strengths to try.
        log: progress messages.
        data_sha256: recorded in the weights' metadata.

    Returns:
        The fitted weights, with the CV results in `meta`.
    """
    if any(r.split == "test" for r in rows):
        raise ValueError("the judge is never trained on test rows")
    exchanges = [Exchange(r.prompt, r.response) for r in rows]
    y = np.array([1.0 if refused_label(r.label) else 0.0 for r in rows])
    plan = folds(rows)
    results: list[CVResult] = []
    cache: dict[FeatureSpec, F] = {}
    names = ("embedding", "phrases", "sentences")
    for layer in layers:
        # Each block is computed once per layer; a feature set is a choice of blocks.
        blocks = feature_blocks(exchanges, encoder, layer, names)
        for chosen in itertools.product((False, True), repeat=len(names)):
            if not any(chosen):
                continue
            flags = dict(zip(names, chosen, strict=True))
            spec = FeatureSpec(layer=layer, opening=False, **flags)
            cache[spec] = x = np.hstack([blocks[n] for n in spec.blocks])
            _search(spec, x, y, plan, l2_grid, results, log)
    best = max(results, key=lambda r: (round(r.kappa, 4), -r.l2))
    x = cache[best.spec]
    w, b, mu, sd = _fit(x, y, best.l2)
    meta = {
        "name": NAME,
        "train_rows": len(rows),
        "train_sources": sorted({r.source or "unknown" for r in rows}),
        "data_sha256": data_sha256,
        "train_rows_sha256": hashlib.sha256(
            "\n".join(f"{r.id}\t{r.label}" for r in rows).encode()
        ).hexdigest(),
        "cv": "leave one source out (prompts of the held-out source dropped from training)",
        "cv_kappa": round(best.kappa, 4),
        "cv_fold_kappas": {
            k: (round(v, 4) if v is not None else None) for k, v in best.fold_kappas.items()
        },
        "l2": best.l2,
        "cv_grid": [
            {
                "layer": r.spec.layer,
                "blocks": list(r.spec.blocks),
                "l2": r.l2,
                "threshold": r.threshold,
                "kappa": round(r.kappa, 4),
            }
            for r in results
        ],
    }
    return ClassifierWeights(
        spec=best.spec, w=w, b=b, threshold=best.threshold, mu=mu, sd=sd, meta=meta
    )


__all__ = ["L2_GRID", "LAYERS", "CVResult", "folds", "train_classifier"]
