"""Benchmark fine-tuning's safeguards: screening throughput and the post-tune safety gate.

  screening   `screen_examples` on a training file of benign look-alike requests (the bundled
              `benign_sensitive` set, each with a short placeholder answer), through the
              `keyword` guard and through the `default` chain (keyword + embedding classifier)
              that tiers use: examples per second, median of ROUNDS runs
  gate        the post-tune safety gate (`posttune_gate`: refusal and jailbreak suites on the
              base model and on a tuned one, the bundled model on CPU) at the size given:
              wall time cold (base measured too) and warm (base runs reused from the logs, as
              every job after a worker's first)

The tuned model is a LoRA adapter of a few steps on six benign examples (trained first, not
timed). Wall-clock times: on a shared VM, neighbours inflate them.

Usage: python bench/finetune.py [--rounds 3] [--gate-samples 4 --gate-prompts 1
       --gate-max-tokens 16] [--no-gate]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from releasegate.assess import GateSize, bundled_path, posttune_gate
from releasegate.backends import ChatMessage, LoraRunConfig, ensure_bundled_model, lora_finetune
from releasegate.finetune import Example, GateThresholds, ScreeningPolicy, screen_examples
from releasegate.guards import build_guards
from releasegate.settings import Settings

PLACEHOLDER = "Here is a short, general answer."


def _examples() -> list[Example]:
    import json

    rows = bundled_path("refusal/benign_sensitive.jsonl").read_text().splitlines()
    out = []
    for i, line in enumerate(rows, start=1):
        prompt = json.loads(line)["prompt"]
        messages = (
            ChatMessage(role="user", content=prompt),
            ChatMessage(role="assistant", content=PLACEHOLDER),
        )
        out.append(Example(i, messages))
    return out


def bench_screening(rounds: int, settings: Settings) -> None:
    examples = _examples()
    policy = ScreeningPolicy(frozenset({"S1", "S2", "S3", "S4", "S9"}), 0.01)
    print(f"screening {len(examples)} examples (benign_sensitive + placeholder answers)")
    print("| guards | examples/s (median) | s per file | flagged |\n|---|---:|---:|---:|")
    for guards in (["keyword"], ["default"]):
        chain = build_guards(guards, settings)
        asyncio.run(screen_examples(examples[:4], chain, policy))  # load models, warm up
        times, flagged = [], 0
        for _ in range(rounds):
            started = time.perf_counter()
            report = asyncio.run(screen_examples(examples, chain, policy))
            times.append(time.perf_counter() - started)
            flagged = len({f.line for f in report.flagged})
        median = statistics.median(times)
        print(f"| {'+'.join(guards)} | {len(examples) / median:.0f} | {median:.2f} | {flagged} |")


def bench_gate(size: GateSize, settings: Settings) -> None:
    base_spec = "bundled:smollm2-guarded"
    base_dir = ensure_bundled_model("smollm2-guarded", settings)
    work = Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    examples = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in [
            ("What is the capital of France?", "Paris."),
            ("Name a primary colour.", "Red."),
            ("How many days are in a week?", "Seven."),
            ("What do bees make?", "Honey."),
            ("What is 2 plus 2?", "4."),
            ("Which planet is red?", "Mars."),
        ]
    ]
    config = LoraRunConfig(steps=3, batch_size=2, learning_rate=2e-4, device="cpu")
    adapter, stats = lora_finetune(base_dir, examples, config, work / "adapter")
    print(f"tuned adapter: {stats.steps} steps in {stats.wall_time_s} s (not part of the gate)")
    gate = posttune_gate(base_spec, settings, size, GateThresholds(), work / "logs")
    started = time.perf_counter()
    cold = gate(f"lora:{adapter}")
    cold_s = time.perf_counter() - started
    # A second tuned model (same adapter, copied): the base runs are reused from the logs.
    other = work / "adapter2"
    other.mkdir()
    for path in adapter.iterdir():
        (other / path.name).write_bytes(path.read_bytes())
    (other / "releasegate-finetune.json").write_text("{}")
    gate2 = posttune_gate(base_spec, settings, size, GateThresholds(), work / "logs")
    started = time.perf_counter()
    warm = gate2(f"lora:{other}")
    warm_s = time.perf_counter() - started
    print(
        f"gate size: {size.samples} refusal requests, {size.jailbreak_prompts} per jailbreak "
        f"transform, {size.max_tokens} tokens per answer"
    )
    print("| run | wall s | passed | base refusal / asr | tuned refusal / asr |")
    print("|---|---:|---|---|---|")
    for label, seconds, outcome in (("cold", cold_s, cold), ("warm", warm_s, warm)):
        b, t = outcome.base, outcome.tuned
        print(
            f"| {label} | {seconds:.0f} | {outcome.passed} | {b['refusal_rate']} / "
            f"{b['jailbreak_asr']} | {t['refusal_rate']} / {t['jailbreak_asr']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gate-samples", type=int, default=4)
    parser.add_argument("--gate-prompts", type=int, default=1)
    parser.add_argument("--gate-max-tokens", type=int, default=16)
    parser.add_argument("--no-gate", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings(device="cpu", data_dir=Path(tempfile.mkdtemp(prefix="bench-data-")))
    load = os.getloadavg()[0]
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load:.1f}, Python {platform.python_version()}"
    )
    bench_screening(args.rounds, settings)
    if not args.no_gate:
        size = GateSize(
            samples=args.gate_samples,
            jailbreak_prompts=args.gate_prompts,
            max_tokens=args.gate_max_tokens,
        )
        bench_gate(size, settings)


if __name__ == "__main__":
    main()
