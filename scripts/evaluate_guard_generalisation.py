"""How well the default guard generalises beyond its own data (issue 17): held-out splits,
leave-one-category-out and leave-one-phrasing-out, with Wilson 95 % intervals.

    .venv/bin/python scripts/evaluate_guard_generalisation.py [--out docs-table.md]

- **Held out**: the guard trained on the `--train` splits (by default those of the committed
  weights, as `scripts/train_guard.py` trains them), scored on `heldout.jsonl`,
  `heldout_benign_safety.jsonl` and `public_harmbench.jsonl`.
- **Leave one category out**: for each hazard category, the classifier retrained without that
  category's harmful training rows; recall on every harmful row of the category (training rows
  included, since this model never saw them); FPR on the held-out benign rows.
- **Leave one phrasing out**: requests grouped by their phrasing (`phrasing_of`: role-play,
  question, instruction, first person...); for each, the classifier retrained without any row
  of that phrasing, harmful or benign; recall and FPR on the rows of that phrasing.

Every number is the `default` guard's: the keyword guard (fixed phrases) or the retrained
classifier. Folds use one L2 strength (the full training's) and 3-fold CV for the threshold,
to keep the run in minutes. Nothing is tuned on what is scored.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from releasegate.guards._data import GuardExample, SplitName, bundled_split, load_examples
from releasegate.guards._eval import Rate
from releasegate.guards._keyword import KeywordGuard
from releasegate.guards._linear import LinearHeads
from releasegate.guards._minilm import load_encoder
from releasegate.guards._train import EmbeddingCache, guard_pieces, train_heads

TRAIN: tuple[SplitName, ...] = (
    "train",
    "train_everyday",
    "train_safety",
    "public_dna_malicious",
    "public_advbench",
)
SHIPPED: tuple[SplitName, ...] = ("train", "train_everyday")
HELDOUT: tuple[SplitName, ...] = ("heldout", "heldout_benign_safety", "public_harmbench")

_ROLEPLAY = re.compile(
    r"\b(pretend|role-?play|you are|you're now|act as|imagine|hypothetical|in a story|"
    r"for a novel|fictional|character)\b",
    re.I,
)
_FIRST_PERSON = re.compile(r"^(i|i'm|im|i've|my|we|our|me)\b", re.I)
_QUESTION_HOW = re.compile(r"^(how|hw|hiw)\b", re.I)
_QUESTION = re.compile(
    r"^(what|which|where|who|whom|why|when|is|are|can|could|should|would|will|do|does|did|"
    r"any|whats|what's)\b",
    re.I,
)
_INSTRUCTION = re.compile(
    r"^(give|write|explain|list|describe|create|generate|tell|provide|show|help|draft|"
    r"compose|make|outline|suggest|teach|design|develop|produce|detail|convince|persuade)\b",
    re.I,
)


def phrasing_of(text: str) -> str:
    """The phrasing family of a request, by a fixed rule (first match wins)."""
    t = text.strip()
    if _ROLEPLAY.search(t):
        return "role-play or fiction frame"
    if _QUESTION_HOW.match(t):
        return "how-question"
    if _QUESTION.match(t):
        return "other question"
    if _INSTRUCTION.match(t):
        return "instruction"
    if _FIRST_PERSON.match(t):
        return "first person"
    return "other"


def _outside_category(cat: str) -> Callable[[GuardExample], bool]:
    return lambda r: not (r.category is not None and r.category.value == cat)


def _outside_phrasing(name: str) -> Callable[[GuardExample], bool]:
    return lambda r: phrasing_of(r.text) != name


def _rows(names: Sequence[SplitName]) -> list[GuardExample]:
    return [r for n in names for r in load_examples(bundled_split(n))]


class Scorer:
    """The default guard (keyword guard or a classifier) on cached features."""

    def __init__(self, cache: EmbeddingCache) -> None:
        self.cache = cache
        self.keyword = KeywordGuard()
        self._kw: dict[str, bool] = {}

    def flags(self, heads: LinearHeads, rows: Sequence[GuardExample]) -> list[bool]:
        out = []
        for r in rows:
            if r.text not in self._kw:
                self._kw[r.text] = self.keyword.judge([r.text]).flagged
            pieces = guard_pieces(r.text)
            score = float(heads.harm_prob(self.cache.get(pieces)).max())
            out.append(self._kw[r.text] or score >= heads.threshold)
        return out


def _rate(flags: Sequence[bool]) -> Rate:
    return Rate.of(sum(flags), len(flags))


def log(message: str) -> None:
    print(message, file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the Markdown tables here")
    parser.add_argument(
        "--train",
        default=",".join(SHIPPED),
        help=f"comma-separated training splits (default: the shipped guard's, {','.join(SHIPPED)}; "
        f"with the public and safety sets: {','.join(TRAIN)})",
    )
    args = parser.parse_args()
    train_names = tuple(args.train.split(","))
    if any(n in HELDOUT for n in train_names):
        print("refusing to train on a held-out split", file=sys.stderr)
        return 2
    started = time.perf_counter()
    train = _rows(train_names)  # type: ignore[arg-type]
    held = {n: load_examples(bundled_split(n)) for n in HELDOUT}
    every = train + [r for rows in held.values() for r in rows]
    encoder = load_encoder()
    cache = EmbeddingCache(encoder, 3)
    cache.add([p for r in every for p in guard_pieces(r.text)], None)
    full = train_heads(train, encoder, cache=cache, log=log, category_heads=False)
    l2 = float(full.meta["chosen_l2"])
    scorer = Scorer(cache)
    lines = [f"### Held-out splits (trained on {', '.join(train_names)})", ""]
    lines += ["| split | rows | recall [95% CI] | FPR [95% CI] |", "|---|---:|---|---|"]
    held_benign = [r for rows in held.values() for r in rows if not r.harmful]
    for name, rows in held.items():
        flags = scorer.flags(full, rows)
        harm = [f for f, r in zip(flags, rows, strict=True) if r.harmful]
        ben = [f for f, r in zip(flags, rows, strict=True) if not r.harmful]
        recall = str(_rate(harm)) if harm else "—"
        fpr = str(_rate(ben)) if ben else "—"
        lines.append(f"| {name} | {len(rows)} | {recall} | {fpr} |")
    all_held = [r for rows in held.values() for r in rows]
    flags = scorer.flags(full, all_held)
    pooled_h = [f for f, r in zip(flags, all_held, strict=True) if r.harmful]
    pooled_b = [f for f, r in zip(flags, all_held, strict=True) if not r.harmful]
    lines.append(f"| **pooled** | {len(all_held)} | {_rate(pooled_h)} | {_rate(pooled_b)} |")

    def fold(keep: Callable[[GuardExample], bool]) -> LinearHeads:
        return train_heads(
            [r for r in train if keep(r)],
            encoder,
            folds=3,
            l2_grid=(l2,),
            cache=cache,
            category_heads=False,
        )

    lines += ["", "### Leave one category out (recall on the category never trained on)", ""]
    lines += ["| category | harmful rows | recall [95% CI] | FPR on held-out benign |"]
    lines += ["|---|---:|---|---|"]
    cats = sorted({r.category.value for r in every if r.category}, key=lambda c: int(c[1:]))
    loco_h: list[bool] = []
    loco_b: list[bool] = []
    for cat in cats:
        heads = fold(_outside_category(cat))
        target = [r for r in every if r.category and r.category.value == cat]
        fh = scorer.flags(heads, target)
        fb = scorer.flags(heads, held_benign)
        loco_h += fh
        loco_b += fb
        lines.append(f"| {cat} | {len(target)} | {_rate(fh)} | {_rate(fb)} |")
        log(f"LOCO {cat}: {_rate(fh)}")
    lines.append(f"| **pooled** | {len(loco_h)} | {_rate(loco_h)} | {_rate(loco_b)} |")

    lines += ["", "### Leave one phrasing out (rows of a phrasing never trained on)", ""]
    lines += ["| phrasing | harmful / benign rows | recall [95% CI] | FPR [95% CI] |"]
    lines += ["|---|---:|---|---|"]
    loto_h: list[bool] = []
    loto_b: list[bool] = []
    for name in sorted({phrasing_of(r.text) for r in every}):
        heads = fold(_outside_phrasing(name))
        target = [r for r in every if phrasing_of(r.text) == name]
        flags = scorer.flags(heads, target)
        fh = [f for f, r in zip(flags, target, strict=True) if r.harmful]
        fb = [f for f, r in zip(flags, target, strict=True) if not r.harmful]
        loto_h += fh
        loto_b += fb
        lines.append(f"| {name} | {len(fh)} / {len(fb)} | {_rate(fh)} | {_rate(fb)} |")
        log(f"LOTO {name}: {_rate(fh)} / {_rate(fb)}")
    lines.append(
        f"| **pooled** | {len(loto_h)} / {len(loto_b)} | {_rate(loto_h)} | {_rate(loto_b)} |"
    )
    lines += ["", f"({time.perf_counter() - started:.0f} s; threshold {full.threshold:.3f}, "]
    lines[-1] += f"L2 {l2:g}, {len(train)} training rows)"
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
