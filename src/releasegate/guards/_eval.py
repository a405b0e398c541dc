"""Evaluation of a guard on labelled requests: precision, recall and false-positive rate, with
every harmful row also scored under each obfuscation of `_obfuscate`."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from releasegate.backends._base import ChatMessage
from releasegate.guards._base import Guard, GuardError, GuardVerdict
from releasegate.guards._chain import GuardChain, combine
from releasegate.guards._data import GuardExample
from releasegate.guards._obfuscate import OBFUSCATIONS

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score 95 % interval of a proportion (Wilson 1927); (0, 1) without samples."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Rate:
    """A proportion with its count and Wilson 95 % interval."""

    hits: int
    n: int
    value: float
    ci95: tuple[float, float]

    @classmethod
    def of(cls, hits: int, n: int) -> Rate:
        return cls(hits, n, hits / n if n else 0.0, wilson(hits, n))

    def __str__(self) -> str:
        lo, hi = self.ci95
        return f"{self.value:.3f} [{lo:.3f}, {hi:.3f}] ({self.hits}/{self.n})"


@dataclass
class EvalReport:
    """Metrics of one guard on one split."""

    harmful_rows: int
    benign_rows: int
    recall: float
    """Flagged share of harmful items, the plain rows and all their obfuscations together."""
    recall_plain: float
    recall_by_obfuscation: dict[str, float]
    fpr: float
    """Flagged share of benign rows."""
    fpr_by_obfuscation: dict[str, float]
    """Flagged share of benign rows under each obfuscation (not part of the goal: it shows
    how much an obfuscation by itself raises suspicion)."""
    precision: float
    """Of all flagged items (obfuscated harmful included), the share that is harmful."""
    precision_plain: float
    """Precision on the split as it is (plain harmful and benign rows)."""
    category_accuracy: float
    """Share of flagged plain harmful rows whose first category is the labelled one."""
    ms_per_request: float
    """Wall-clock time of the evaluation per judged text (batched: see bench/guards.py for the
    per-request latency)."""
    false_positives: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    recall_plain_ci: Rate | None = None
    """Plain harmful rows flagged, with its Wilson 95 % interval."""
    fpr_ci: Rate | None = None
    recall_by_category: dict[str, Rate] = field(default_factory=dict)
    """Plain harmful rows flagged, per hazard category."""
    fpr_by_source: dict[str, Rate] = field(default_factory=dict)
    """Benign rows flagged, per source (the id's prefix up to its first '-')."""

    def as_dict(self) -> dict[str, object]:
        out = dict(vars(self))
        for key in ("recall_plain_ci", "fpr_ci"):
            rate = out[key]
            out[key] = vars(rate) if isinstance(rate, Rate) else None
        for key in ("recall_by_category", "fpr_by_source"):
            out[key] = {k: vars(v) for k, v in out[key].items()}
        return out


def evaluate(
    judge_many: Callable[[list[str]], list[GuardVerdict]],
    rows: Sequence[GuardExample],
    *,
    obfuscated_benign: bool = True,
) -> EvalReport:
    """Score a guard on labelled rows.

    Args:
        judge_many: texts → one verdict per text (see `sync_judge_many`).
        rows: labelled rows (the held-out split for reported numbers).
        obfuscated_benign: also score the benign rows obfuscated (`fpr_by_obfuscation`).

    Returns:
        The metrics, and the ids of false positives and of missed harmful items.
    """
    harmful = [r for r in rows if r.harmful]
    benign = [r for r in rows if not r.harmful]
    names = list(OBFUSCATIONS)
    texts: list[str] = []
    for row in harmful:
        texts.append(row.text)
        texts.extend(OBFUSCATIONS[n](row.text) for n in names)
    texts.extend(r.text for r in benign)
    if obfuscated_benign:
        texts.extend(OBFUSCATIONS[n](r.text) for n in names for r in benign)
    start = time.perf_counter()
    verdicts = judge_many(texts)
    elapsed_ms = (time.perf_counter() - start) * 1000
    if len(verdicts) != len(texts):
        raise GuardError(f"guard gave {len(verdicts)} verdicts for {len(texts)} texts")
    it = iter(verdicts)
    plain_hits = 0
    cat_hits = 0
    by_obf = dict.fromkeys(names, 0)
    missed: list[str] = []
    for row in harmful:
        verdict = next(it)
        if verdict.flagged:
            plain_hits += 1
            cat_hits += bool(verdict.categories) and verdict.categories[0] == row.category
        else:
            missed.append(row.id)
        for name in names:
            if next(it).flagged:
                by_obf[name] += 1
            else:
                missed.append(f"{row.id}:{name}")
    fps = [r.id for r in benign if next(it).flagged]
    fp_obf = dict.fromkeys(names, 0)
    if obfuscated_benign:
        for name in names:
            fp_obf[name] = sum(next(it).flagged for _ in benign)
    missed_ids = set(missed)
    by_cat: dict[str, list[int]] = {}
    for row in harmful:
        cat = row.category.value if row.category else "?"
        by_cat.setdefault(cat, []).append(int(row.id not in missed_ids))
    by_source: dict[str, list[int]] = {}
    fp_ids = set(fps)
    for row in benign:
        by_source.setdefault(row.id.split("-")[0], []).append(int(row.id in fp_ids))
    n_h = len(harmful)
    n_items = n_h * (1 + len(OBFUSCATIONS))
    tp = plain_hits + sum(by_obf.values())
    return EvalReport(
        harmful_rows=n_h,
        benign_rows=len(benign),
        recall=tp / n_items if n_items else 0.0,
        recall_plain=plain_hits / n_h if n_h else 0.0,
        recall_by_obfuscation={k: v / n_h if n_h else 0.0 for k, v in by_obf.items()},
        fpr=len(fps) / len(benign) if benign else 0.0,
        fpr_by_obfuscation=(
            {k: v / len(benign) if benign else 0.0 for k, v in fp_obf.items()}
            if obfuscated_benign
            else {}
        ),
        precision=tp / (tp + len(fps)) if tp + len(fps) else 0.0,
        precision_plain=plain_hits / (plain_hits + len(fps)) if plain_hits + len(fps) else 0.0,
        category_accuracy=cat_hits / plain_hits if plain_hits else 0.0,
        ms_per_request=elapsed_ms / len(texts) if texts else 0.0,
        false_positives=fps,
        missed=missed,
        recall_plain_ci=Rate.of(plain_hits, n_h),
        fpr_ci=Rate.of(len(fps), len(benign)),
        recall_by_category={
            k: Rate.of(sum(v), len(v))
            for k, v in sorted(by_cat.items(), key=lambda kv: int(kv[0][1:] or 0))
        },
        fpr_by_source={k: Rate.of(sum(v), len(v)) for k, v in sorted(by_source.items())},
    )


def sync_judge(guard: Guard) -> Callable[[str], GuardVerdict]:
    """A synchronous text → verdict function for a guard (for evaluation, the CLI, benches).

    Guards with a synchronous `judge` are called directly, chains are combined member by
    member, any other guard runs its `check_input` on a private event loop.
    """
    judge = getattr(guard, "judge", None)
    if callable(judge):
        return lambda text: judge([text])
    if isinstance(guard, GuardChain):
        parts = [(g.name, sync_judge(g)) for g in guard.guards]

        def chained(text: str) -> GuardVerdict:
            verdicts = []
            for name, part in parts:
                try:
                    verdicts.append(part(text))
                except GuardError:
                    raise
                except Exception as exc:  # fail closed, as the async chain does
                    raise GuardError(f"guard {name!r} failed: {exc}") from exc
            return combine(verdicts, guard.name)

        return chained
    # One loop for all calls, because an async guard may keep a connection pool bound to it; it
    # is closed when the judge is garbage-collected, so no loop (and its socket pair) leaks.
    loop = asyncio.new_event_loop()

    def via_loop(text: str) -> GuardVerdict:
        return loop.run_until_complete(guard.check_input([ChatMessage(role="user", content=text)]))

    weakref.finalize(via_loop, loop.close)
    return via_loop


def sync_judge_many(guard: Guard) -> Callable[[list[str]], list[GuardVerdict]]:
    """Like `sync_judge`, for many texts at once (batched where the guard supports it)."""
    many = getattr(guard, "judge_many", None)
    if callable(many):
        return many  # type: ignore[no-any-return]
    if isinstance(guard, GuardChain):
        parts = [sync_judge_many(g) for g in guard.guards]

        def chained(texts: list[str]) -> list[GuardVerdict]:
            per_guard = [part(texts) for part in parts]
            return [combine([vs[i] for vs in per_guard], guard.name) for i in range(len(texts))]

        return chained
    one = sync_judge(guard)
    return lambda texts: [one(t) for t in texts]
