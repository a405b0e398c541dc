"""Benchmark the guards: latency per request, p50 and p99, per guard and for the chain.

Requests: every row of the held-out split (train split if it is missing), plus the obfuscated
variants of its harmful rows (base64, leetspeak, zero-width, homoglyphs) — the same mix that
`releasegate guards eval` scores. Each guard judges each request ROUNDS times, the guards
taking turns in chunks of requests (`--chunk`); each timing covers one request, the way the
gateway calls the guard:

  normalizer   `normalize(text)` alone (the views every guard scans)
  keyword      KeywordGuard (normalizer + phrase match)
  encoder      the classifier's forward pass (4 of 6 layers, numpy) on the cleaned text alone
  embedding    EmbeddingGuard (normalizer + encoder on every view + linear heads)
  default      the `default` chain (keyword + embedding), through the async API a gateway uses
               (`await chain.check_input(...)`, the classifier in a worker thread)

Wall-clock and CPU time side by side: on a shared VM, neighbours inflate wall time. CPU time is
that of the calling thread, so it is not shown meaningfully for the async chain (its classifier
runs in a worker thread).

Usage: python bench/guards.py [--rounds 3] [--limit 0] [--chunk 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from collections.abc import Callable

from releasegate.backends._base import ChatMessage
from releasegate.guards import build_guards, normalize
from releasegate.guards._data import bundled_split, load_examples
from releasegate.guards._embedding import EmbeddingGuard
from releasegate.guards._keyword import KeywordGuard
from releasegate.guards._minilm import load_encoder
from releasegate.guards._obfuscate import OBFUSCATIONS
from releasegate.settings import Settings


def _texts(limit: int) -> list[str]:
    path = bundled_split("heldout")
    if not path.is_file():
        path = bundled_split("train")
    rows = load_examples(path)
    texts = []
    for row in rows:
        texts.append(row.text)
        if row.harmful:
            texts.extend(f(row.text) for f in OBFUSCATIONS.values())
    return texts[:limit] if limit else texts


def _measure_all(
    cases: list[tuple[str, Callable[[str], object]]], texts: list[str], rounds: int, chunk: int
) -> dict[str, dict[str, float]]:
    """Time every case on every text, the cases taking turns in chunks of `chunk` texts.

    Taking turns spreads the shared machine's slow and fast minutes over all cases alike (run
    one after the other, a case measured a minute after another saw a VM up to 20 % slower or
    faster); chunks keep each case's weights warm in the CPU caches, as steady traffic does.
    """
    wall: dict[str, list[float]] = {name: [] for name, _ in cases}
    cpu: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(rounds):
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            for name, fn in cases:
                for text in part:
                    c0 = time.thread_time()  # this thread only: BLAS runs single-threaded here
                    t0 = time.perf_counter()
                    fn(text)
                    wall[name].append((time.perf_counter() - t0) * 1000)
                    cpu[name].append((time.thread_time() - c0) * 1000)
    out = {}
    for name, values in wall.items():
        values.sort()
        out[name] = {
            "p50": statistics.median(values),
            "p99": values[min(len(values) - 1, round(0.99 * (len(values) - 1)))],
            "mean": statistics.fmean(values),
            "cpu_p50": statistics.median(cpu[name]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="guard latency per request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="first N requests only")
    parser.add_argument(
        "--chunk", type=int, default=50, help="requests per turn (the guards take turns)"
    )
    args = parser.parse_args()
    texts = _texts(args.limit)
    keyword = KeywordGuard()
    embedding = EmbeddingGuard.from_file()
    encoder = load_encoder()
    layer = embedding.heads.layer
    chain = build_guards(["default"], Settings())
    loop = asyncio.new_event_loop()

    def via_chain(text: str) -> object:
        return loop.run_until_complete(chain.check_input([ChatMessage(role="user", content=text)]))

    cases: list[tuple[str, Callable[[str], object]]] = [
        ("normalizer", normalize),
        ("keyword", lambda t: keyword.judge([t])),
        ("encoder (1 view)", lambda t: encoder.features([normalize(t)[0]], layer)),
        ("embedding", lambda t: embedding.judge([t])),
        ("default chain (async)", via_chain),
    ]
    for _, fn in cases:  # warm-up
        for text in texts[:20]:
            fn(text)
    load = os.getloadavg()[0]
    print(
        f"{len(texts)} requests x {args.rounds} rounds; {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load:.1f}"
    )
    views = statistics.fmean(len(normalize(t)) for t in texts)
    print(f"mean views per request: {views:.2f}")
    print("| guard | p50 ms | p99 ms | mean ms | CPU p50 ms (calling thread) |")
    print("|---|---:|---:|---:|---:|")
    results = _measure_all(cases, texts, args.rounds, args.chunk)
    for name, _ in cases:
        m = results[name]
        print(
            f"| {name} | {m['p50']:.2f} | {m['p99']:.2f} | {m['mean']:.2f} | {m['cpu_p50']:.2f} |"
        )
    _worst_case(embedding)
    loop.close()


# Harmless text that the normalizer turns into as many views as it can: homoglyphs (a folded
# view), a leetspoken word (a leet view), letter spacing (a spaced view).
_WORST_SENTENCE = "The g\u0430rden club m3ets on Tuesd4ys; bring s e e d s and a c\u0430ke. "


def _worst_case(embedding: EmbeddingGuard) -> None:
    """The cap's worst case: the most a request can make the guards do before a 413.

    A text of the default tier's `guard_max_chars` built to multiply the views, then texts cut
    down until the embedding guard's word-piece budget lets them through: the largest one
    scored is the cost of the worst request the gateway serves.
    """
    from releasegate.access import DEFAULT_TIERS
    from releasegate.guards._base import GuardInputTooLarge

    cap = DEFAULT_TIERS["public"].guard_max_chars or 0
    print(f"\nworst case (tier cap {cap} characters, token budget {embedding.token_budget}):")
    print("| characters | views | word pieces | embedding guard | ms |")
    print("|---:|---:|---:|---|---:|")
    size = cap
    while size > 0:
        text = (_WORST_SENTENCE * (size // len(_WORST_SENTENCE) + 1))[:size]
        pieces = embedding.pieces([text])
        tokens = sum(embedding.encoder.token_counts(pieces))
        t0 = time.perf_counter()
        try:
            verdict = embedding.judge([text])
            outcome = "flagged" if verdict.flagged else "scored, not flagged"
        except GuardInputTooLarge:
            outcome = "413 (over budget)"
        ms = (time.perf_counter() - t0) * 1000
        print(f"| {size} | {len(normalize(text))} | {tokens} | {outcome} | {ms:.0f} |")
        if not outcome.startswith("413"):
            break
        size = int(size * 0.8)


if __name__ == "__main__":
    main()
