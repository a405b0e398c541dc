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
import re
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
import numpy.typing as npt

from releasegate.backends._base import ChatMessage
from releasegate.guards import _normalize
from releasegate.guards._base import GuardError, GuardInputTooLarge, GuardVerdict
from releasegate.guards._linear import LinearHeads
from releasegate.guards._minilm import MiniLMEncoder, load_encoder
from releasegate.guards._taxonomy import HazardCategory
from releasegate.guards._text import input_texts

WEIGHTS_FILE = "minilm_linear.npz"
# A view up to LONG_WORDS words is embedded whole; a longer one in windows of whole sentences
# of at most WINDOW_WORDS words (≈ 64 word pieces), consecutive windows sharing a sentence, so
# one harmful sentence in a long harmless text is scored nearly alone, not diluted by it.
LONG_WORDS = 64
WINDOW_WORDS = 48
# Pieces embedded per forward pass; scoring stops after the first pass with a flagged piece.
BATCH = 16
DEFAULT_TOKEN_BUDGET = 24_576
"""Word pieces the guard embeds per request at most (every view's every window counted, each
truncated at the encoder's 256): above it `GuardInputTooLarge`. With the tier's
`guard_max_chars` this bounds a request's guard cost (see bench/guards.py, "worst case")."""
# A second category is reported when the head gives it at least this share.
SECOND_CATEGORY_PROB = 0.35

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\s*\n\s*")


def _encoder_for(heads: LinearHeads) -> MiniLMEncoder:
    """The shared encoder, or for fine-tuned heads one with their adapters (cached by hash)."""
    if not heads.adapters:
        return load_encoder()
    return _adapted_encoder(heads.sha256 or str(id(heads)), heads)


_ADAPTED: dict[str, MiniLMEncoder] = {}


def _adapted_encoder(key: str, heads: LinearHeads) -> MiniLMEncoder:
    if key not in _ADAPTED:
        try:
            _ADAPTED[key] = MiniLMEncoder(adapters=heads.adapters)
        except GuardError:
            raise
        except Exception as exc:
            raise GuardError(f"could not load the fine-tuned encoder: {exc}") from exc
    return _ADAPTED[key]


def default_weights_path() -> Path:
    """The weight file committed in the package (`guards/_weights/minilm_linear.npz`)."""
    return Path(str(files("releasegate.guards").joinpath("_weights", WEIGHTS_FILE)))


def _word_windows(words: list[str]) -> list[list[str]]:
    stride = WINDOW_WORDS * 2 // 3
    starts = range(0, max(len(words) - WINDOW_WORDS, 0) + stride, stride)
    return [words[s : s + WINDOW_WORDS] for s in starts]


def chunks(view: str) -> list[str]:
    """The view itself if short, else windows of whole sentences (see `WINDOW_WORDS`).

    Consecutive windows share their boundary sentence, so a sentence split across two is
    also scored whole; a sentence longer than a window is cut into overlapping word windows.
    """
    words = view.split()
    if len(words) <= LONG_WORDS:
        return [view]
    sentences: list[list[str]] = []
    for sentence in _SENTENCE_END.split(view):
        part = sentence.split()
        if len(part) > WINDOW_WORDS:
            sentences.extend(_word_windows(part))
        elif part:
            sentences.append(part)
    out: list[str] = []
    i = 0
    while i < len(sentences):
        window = list(sentences[i])
        j = i + 1
        while j < len(sentences) and len(window) + len(sentences[j]) <= WINDOW_WORDS:
            window += sentences[j]
            j += 1
        out.append(" ".join(window))
        if j >= len(sentences):
            break
        i = j - 1 if j - 1 > i else j  # share the last sentence with the next window
    return out


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
        token_budget: int = DEFAULT_TOKEN_BUDGET,
    ) -> None:
        self.heads = heads
        self.encoder = encoder or _encoder_for(heads)
        if not heads.layer < self.encoder.num_layers:
            raise GuardError(
                f"guard weights use encoder layer {heads.layer}; the encoder has "
                f"{self.encoder.num_layers}"
            )
        self.threshold = heads.threshold if threshold is None else threshold
        if not (np.isfinite(self.threshold) and 0.0 < self.threshold <= 1.0):
            raise GuardError(f"guard threshold {self.threshold!r} is not in (0, 1]")
        self.token_budget = token_budget
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

    @property
    def artefacts(self) -> dict[str, str]:
        """The files this guard judges with, by path, with their SHA-256 (logged at start)."""
        return {self.heads.path: self.heads.sha256} if self.heads.path else {}

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
        """Judge texts synchronously (the async methods run this off the event loop).

        Pieces are embedded `BATCH` at a time, and scoring stops after the first batch with a
        piece at or above the threshold (a flagged request costs no more than it must).

        Raises:
            GuardInputTooLarge: the pieces hold more than `token_budget` word pieces.
        """
        pieces = self.pieces(texts)
        if not pieces:
            return GuardVerdict(flagged=False, score=0.0, guard=self._name)
        tokens = sum(self.encoder.token_counts(pieces))
        if tokens > self.token_budget:
            raise GuardInputTooLarge(
                f"{self._name}: the request is {tokens} word pieces to score, above this "
                f"guard's budget of {self.token_budget}"
            )
        best: GuardVerdict | None = None
        for start in range(0, len(pieces), BATCH):
            verdict = self._verdict(
                self.encoder.features(pieces[start : start + BATCH], self.heads.layer)
            )
            if verdict.flagged:
                return verdict
            if best is None or verdict.score > best.score:
                best = verdict
        assert best is not None
        return best

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
