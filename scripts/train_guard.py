"""Train the embedding guard's classifier on the bundled training split and write its weights.

    .venv/bin/python scripts/train_guard.py [--data PATH ...] [--out PATH] [--target-fpr 0.06]

Reads only training files, by default `src/releasegate/data/guards/train.jsonl` and
`train_everyday.jsonl` (ordinary prompts, system prompts and assistant-style answers, all
benign): the committed weights. `--data` names others, e.g. also `train_safety.jsonl`
(safety-minded, fiction and knowledge requests, benign), `public_dna_malicious.jsonl` and
`public_advbench.jsonl` (public benchmarks' harmful requests) for the variant compared in
docs/guards.md ("Generalisation"). Never the held-out splits (`heldout*.jsonl`,
`public_harmbench.jsonl`): the L2 strength and the decision threshold are chosen by
cross-validation on the training files (see releasegate.guards._train).
Writes `src/releasegate/guards/_weights/minilm_linear.npz` (a few tens of KB), committed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from releasegate.errors import InputError
from releasegate.guards._data import bundled_split, load_examples
from releasegate.guards._embedding import default_weights_path
from releasegate.guards._minilm import load_encoder
from releasegate.guards._train import DEFAULT_TARGET_FPR, train_heads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        help="training JSONL (repeatable); default: train.jsonl and train_everyday.jsonl (the "
        "committed weights); add train_safety, public_dna_malicious and public_advbench for the "
        "variant measured in docs/guards.md, 'Generalisation'",
    )
    parser.add_argument("--out", type=Path, default=default_weights_path())
    parser.add_argument("--target-fpr", type=float, default=DEFAULT_TARGET_FPR)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    paths: list[Path] = args.data or [bundled_split("train"), bundled_split("train_everyday")]
    if any("heldout" in p.name or "harmbench" in p.name for p in paths):
        print("refusing to train on the held-out split", file=sys.stderr)
        return 2
    try:
        rows = [row for p in paths for row in load_examples(p)]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    heads = train_heads(
        rows,
        load_encoder(),
        folds=args.folds,
        target_fpr=args.target_fpr,
        data_paths=paths,
        log=lambda m: print(m, file=sys.stderr),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    heads.save(args.out)
    print(json.dumps({"out": str(args.out), "threshold": heads.threshold, **heads.meta}, indent=2))
    print(f"trained in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
