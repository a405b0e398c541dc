"""`EmbeddingGuard`: a linear classifier on all-MiniLM-L6-v2 features (the mean-pooled hidden
state of one of its layers, chosen in training).

Every text is normalized into views (`normalize`); long views are cut into overlapping chunks of
words so that a harmful request is not diluted by a long harmless context; all pieces are
embedded in one batch, and the text is flagged when any piece scores at or above the threshold
tuned by cross-validation on the training split (`scripts/train_guard.py`). The hazard category
comes from the category head, on the piece that scored highest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
import numpy.typing as npt

from releasegate.backends._base import ChatMessage
from releasegate.guards import _normalize
from releasegate.guards._base import GuardError, GuardVerdict
from releasegate.guards._linear import LinearHeads
from releasegate.guards._minilm import MiniLMEncoder, load_encoder
from releasegate.guards._taxonomy import HazardCategory
from releasegate.guards._text import input_texts

WEIGHTS_FILE = "minilm_linear.npz"
CHUNK_WORDS = 96  # ≈ 128 word pieces, well inside the model's 256
CHUNK_STRIDE = 64
# A second category is reported when the head gives it at least this share.
SECOND_CATEGORY_PROB = 0.35


def default_weights_path() -> Path:
    """The weight file committed in the package (`guards/_weights/minilm_linear.npz`)."""
    return Path(str(files("releasegate.guards").joinpath("_weights", WEIGHTS_FILE)))


def chunks(view: str) -> list[str]:
    """The view itself if short, else overlapping windows of `CHUNK_WORDS` words."""
    words = view.split()
    if len(words) <= CHUNK_WORDS:
        return [view]
    starts = range(0, max(len(words) - CHUNK_WORDS, 0) + CHUNK_STRIDE, CHUNK_STRIDE)
    return [" ".join(words[s : s + CHUNK_WORDS]) for s in starts]


class EmbeddingGuard:
    """Flags texts whose embedding a trained linear head scores as harmful.

    Args:
        heads: trained heads (see `LinearHeads.load`).
        encoder: the sentence encoder (default: the bundled all-MiniLM-L6-v2, loaded once).
        threshold: override the tuned threshold.
        normalize: text → views (default `normalize`).
        name: the guard's name in verdicts.
        check_outputs: judge model answers too. Off by default: the classifier was trained on
            requests only, and on declarative text (answers) it is out of distribution — plain
            harmless statements scored 0.43–0.47 and a repeated harmless paragraph 0.95 against
            a threshold of 0.67, so it would cut harmless streams. With it off, `check_output`
            returns an unflagged verdict and output guarding rests on the other guards of the
            chain (the keyword guard in `default`; add `llamaguard` for answers).
    """

    def __init__(
        self,
        heads: LinearHeads,
        encoder: MiniLMEncoder | None = None,
        *,
        threshold: float | None = None,
        normalize: Callable[[str], list[str]] | None = None,
        name: str = "embedding",
        check_outputs: bool = False,
    ) -> None:
        self.heads = heads
        self.encoder = encoder or load_encoder()
        self.threshold = heads.threshold if threshold is None else threshold
        self._normalize = normalize or _normalize.normalize
        self._name = name
        self.check_outputs = check_outputs

    @classmethod
    def from_file(cls, path: Path | None = None, **kwargs: object) -> EmbeddingGuard:
        """Build the guard from a weight file (default: the committed one).

        Raises:
            GuardError: the file is missing or unreadable (fail closed).
        """
        path = path or default_weights_path()
        try:
            heads = LinearHeads.load(path)
        except Exception as exc:
            raise GuardError(f"cannot read guard weights {path}: {exc}") from exc
        return cls(heads, **kwargs)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        return self._name

    def pieces(self, texts: Sequence[str]) -> list[str]:
        """Every piece of every text that gets embedded (views, chunked)."""
        return [c for t in texts for v in self._normalize(t) for c in chunks(v)]

    def scores(self, texts: Sequence[str]) -> list[float]:
        """P(harmful) of each text: the maximum over its pieces (for evaluation)."""
        out = []
        for t in texts:
            probs = self.heads.harm_prob(self.encoder.features(self.pieces([t]), self.heads.layer))
            out.append(float(probs.max()) if probs.size else 0.0)
        return out

    def judge_many(self, texts: Sequence[str], batch: int = 32) -> list[GuardVerdict]:
        """One verdict per text, as `judge([text])` gives, with the pieces of all texts embedded
        in shared batches (evaluation and offline scoring: much faster than one by one)."""
        owners: list[int] = []
        pieces: list[str] = []
        for i, text in enumerate(texts):
            mine = self.pieces([text])
            pieces.extend(mine)
            owners.extend([i] * len(mine))
        order = sorted(range(len(pieces)), key=lambda j: len(pieces[j]))  # less padding
        feats = np.zeros((len(pieces), 384), dtype=np.float32)
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            feats[idx] = self.encoder.features([pieces[j] for j in idx], self.heads.layer)
        verdicts = []
        owner_arr = np.array(owners)
        for i in range(len(texts)):
            rows = np.flatnonzero(owner_arr == i)
            verdicts.append(self._verdict(feats[rows]))
        return verdicts

    def judge(self, texts: Sequence[str]) -> GuardVerdict:
        """Judge texts synchronously (the async methods run this off the event loop)."""
        pieces = self.pieces(texts)
        if not pieces:
            return GuardVerdict(flagged=False, score=0.0, guard=self._name)
        return self._verdict(self.encoder.features(pieces, self.heads.layer))

    def _verdict(self, emb: npt.NDArray[np.float32]) -> GuardVerdict:
        if not len(emb):
            return GuardVerdict(flagged=False, score=0.0, guard=self._name)
        probs = self.heads.harm_prob(emb)
        best = int(np.argmax(probs))
        score = float(probs[best])
        if not np.isfinite(score):
            raise GuardError("embedding classifier produced a non-finite score")
        flagged = score >= self.threshold
        categories: list[HazardCategory] = []
        if flagged and self.heads.categories:
            cat_p = self.heads.category_probs(emb[best : best + 1])[0]
            order = np.argsort(-cat_p)
            categories.append(HazardCategory(self.heads.categories[int(order[0])]))
            if len(order) > 1 and cat_p[order[1]] >= SECOND_CATEGORY_PROB:
                categories.append(HazardCategory(self.heads.categories[int(order[1])]))
        return GuardVerdict(
            flagged=flagged,
            score=min(max(score, 0.0), 1.0),
            categories=categories,
            guard=self._name,
        )

    async def check_input(self, messages: Sequence[ChatMessage]) -> GuardVerdict:
        # numpy/BLAS releases the GIL: off the event loop, other requests keep being served
        return await asyncio.to_thread(self.judge, input_texts(messages))

    async def check_output(self, text: str, context: Sequence[ChatMessage] = ()) -> GuardVerdict:
        if not self.check_outputs:  # see the class docstring: trained on requests only
            return GuardVerdict(flagged=False, score=0.0, guard=self._name)
        return await asyncio.to_thread(self.judge, [text])
