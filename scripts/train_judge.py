"""Train the refusal judge's classifier on the labelled set's `train` split and write its weights.

    nice -n 10 .venv/bin/python scripts/train_judge.py [--data PATH] [--out PATH]

Reads only the `train` rows of `src/releasegate/data/judge/labelled.jsonl` (docs/data.md). The
features, the L2 strength and the threshold are chosen by leave-one-source-out cross-validation
on them (releasegate.judge._train); the test split is never read. Writes
`src/releasegate/judge/_weights/refusal_judge.npz` (committed) and prints the CV grid.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from releasegate.errors import InputError
from releasegate.guards import load_encoder
from releasegate.judge import bundled_labelled_path, read_labelled
from releasegate.judge._classifier import default_weights_path
from releasegate.judge._train import train_classifier


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=bundled_labelled_path())
    parser.add_argument("--out", type=Path, default=default_weights_path())
    args = parser.parse_args()
    try:
        labelled = read_labelled(args.data)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train = labelled.split("train").rows
    if not train:
        print("error: the file has no rows with split 'train'", file=sys.stderr)
        return 2
    start = time.perf_counter()
    weights = train_classifier(
        train,
        load_encoder(),
        data_sha256=labelled.sha256,
        log=lambda m: print(m, file=sys.stderr),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    weights.save(args.out)
    summary = {k: v for k, v in weights.meta.items() if k != "cv_grid"}
    print(
        json.dumps(
            {
                "out": str(args.out),
                "layer": weights.spec.layer,
                "opening": weights.spec.opening,
                "phrases": weights.spec.phrases,
                "threshold": weights.threshold,
                **summary,
            },
            indent=2,
        )
    )
    print(f"trained in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
