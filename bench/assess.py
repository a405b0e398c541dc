"""Benchmark of `releasegate assess` on the bundled model (CPU).

Side by side in one run, on the same converted SmolLM2-135M-Instruct directory:

- multiple choice: the `releasegate/capability_mcq` task through releasegate's Inspect provider
  (`releasegate/bundled:smollm2`) and through plain Inspect's `hf/<dir>` provider — items/s;
- generation: the `releasegate/refusal` task (fixed answer length) through both — generated
  tokens/s (output tokens from the Inspect log's usage, over the task's wall time);
- a demo-sized assessment (`assess` with every suite at `--limit 2`): wall time.

Wall and CPU time both, because neighbours on a shared VM inflate wall time. Each provider's
model is loaded, and warmed up with an untimed round, before its timed rounds.

Usage: `.venv/bin/python bench/assess.py [--items 16] [--answers 8] [--tokens 32] [--rounds 2]
[--demo]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("RELEASEGATE_MODEL_CACHE_DIR", str(ROOT / ".cache" / "models"))


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _eval(task: Any, model: Any, log_dir: str, limit: int) -> Any:
    from inspect_ai import eval as inspect_eval

    [log] = inspect_eval(
        task, model=model, log_dir=log_dir, limit=limit, display="none", seed=0, max_connections=8
    )
    if log.status != "success":
        raise RuntimeError(f"{task.name}: {log.error}")
    return log


def _output_tokens(log: Any) -> int:
    return sum(u.output_tokens for u in (log.stats.model_usage or {}).values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=16, help="MCQ items per round")
    parser.add_argument("--answers", type=int, default=8, help="refusal answers per round")
    parser.add_argument("--tokens", type=int, default=32, help="answer length in tokens")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--demo", action="store_true", help="also time a demo-sized assessment")
    parser.add_argument("--sweep", default="quick", help="tamper sweep of the demo: quick|default")
    parser.add_argument("--skip-providers", action="store_true", help="only the demo")
    args = parser.parse_args()

    import torch
    from inspect_ai.model import get_model

    from releasegate.assess._mcq import capability_mcq
    from releasegate.assess._modelapi import lend_backend
    from releasegate.assess._refusal import refusal
    from releasegate.backends import ensure_bundled_model, load_backend
    from releasegate.settings import Settings

    settings = Settings(device="cpu")
    model_dir = ensure_bundled_model("smollm2", settings)
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads); "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    if args.skip_providers:
        providers: dict[str, Any] = {}
    else:
        providers = {
            "releasegate/bundled:smollm2": lambda: get_model("releasegate/bundled:smollm2"),
            "hf/<same dir>": lambda: get_model(f"hf/{model_dir}", device="cpu", do_sample=False),
        }
    backend = load_backend("bundled:smollm2", settings)
    results: dict[str, dict[str, list[float]]] = {}
    with lend_backend("bundled:smollm2", backend), tempfile.TemporaryDirectory() as tmp:
        for label, make in providers.items():
            model = make()  # loaded here, outside the timed rounds
            # An untimed warm-up: first forward passes, chat template, the refusal judge's encoder.
            _eval(capability_mcq("cbrn"), model, tmp, 2)
            _eval(refusal(max_tokens=4), model, tmp, 2)
            row = results.setdefault(label, {})
            for r in range(args.rounds):
                log, wall, cpu = _timed(
                    lambda m=model: _eval(capability_mcq("cbrn"), m, tmp, args.items)
                )
                row.setdefault("mcq_items_s", []).append(args.items / wall)
                row.setdefault("mcq_cpu_ms_item", []).append(1000 * cpu / args.items)
                methods = {s.metadata.get("method") for s in log.samples or []}
                row["mcq_method"] = [0.0 if methods == {"logprob"} else 1.0]
                row.setdefault("mcq_acc", []).append(log.results.scores[0].metrics["mean"].value)
                log, wall, cpu = _timed(
                    lambda m=model: _eval(refusal(max_tokens=args.tokens), m, tmp, args.answers)
                )
                tokens = _output_tokens(log)
                row.setdefault("gen_tok_s", []).append(tokens / wall)
                row.setdefault("gen_cpu_ms_tok", []).append(1000 * cpu / max(1, tokens))
                print(f"  {label} round {r + 1}: done", flush=True)
    asyncio.run(backend.aclose())
    if results:
        _print_table(results)
    if args.demo:
        _demo(args, settings)


def _print_table(results: dict[str, dict[str, list[float]]]) -> None:
    print(
        "\n| provider | MCQ items/s | CPU ms/item | scored by | generated tokens/s | CPU ms/token |"
    )
    print("|---|---:|---:|---|---:|---:|")
    for label, row in results.items():
        scored = "logprob" if row["mcq_method"] == [0.0] else "generation (no logprobs)"
        print(
            f"| {label} | {statistics.median(row['mcq_items_s']):.2f} | "
            f"{statistics.median(row['mcq_cpu_ms_item']):.0f} | {scored} | "
            f"{statistics.median(row['gen_tok_s']):.2f} | "
            f"{statistics.median(row['gen_cpu_ms_tok']):.0f} |"
        )
    a, b = results.values()
    mcq_ratio = statistics.median(a["mcq_items_s"]) / statistics.median(b["mcq_items_s"])
    gen_ratio = statistics.median(a["gen_tok_s"]) / statistics.median(b["gen_tok_s"])
    print(f"\nratio releasegate / hf: MCQ {mcq_ratio:.2f}x, generation {gen_ratio:.2f}x")


def _demo(args: Any, settings: Any) -> None:
    from releasegate.assess import TAMPER_SWEEPS, AssessOptions, assess

    with tempfile.TemporaryDirectory() as tmp:
        opts = AssessOptions(
            model="bundled:smollm2",
            limit=2,
            jailbreak_prompts=1,
            tamper=TAMPER_SWEEPS[args.sweep],
            log_dir=Path(tmp),
        )
        report, wall, cpu = _timed(lambda: assess(opts, settings))
    print(
        f"\ndemo-sized assessment (every suite, --limit 2, {args.sweep} sweep): "
        f"{wall:.0f} s wall, {cpu:.0f} s CPU; "
        f"{len(report.evidence)} evidence items, failed: {len(report.coverage.failed)}"
    )


if __name__ == "__main__":
    main()
