"""Generate raw responses of a bundled model for the refusal judge's labelled set.

    nice -n 10 .venv/bin/python scripts/generate_judge_responses.py bundled:smollm2 \
        --split train --out /tmp/judge-raw-smollm2.jsonl

The prompts are the refusal suites' requests (`refusal/harmful.jsonl`,
`refusal/benign_sensitive.jsonl`) and jailbreak-wrapped harmful requests
(`releasegate.assess.TRANSFORMS`), split by prompt with `judge_prompt_split` below: every prompt
(and each wrapped form of it) belongs to one split only. Each model generates for one split only
(docs/data.md), so the judge's test split shares neither prompts nor models with its training.

The output is RAW model text and is never committed: a raw answer to a harmful request may hold
specifics. Every row kept in `releasegate/data/judge/labelled.jsonl` was read by hand, labelled,
and, where it answers a harmful request, had any specifics replaced by "[details withheld]".
Greedy decoding, so a re-run gives the same text.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path

from releasegate.assess import TRANSFORMS, PromptRow, bundled_path, read_jsonl
from releasegate.backends import ChatMessage, GenerationParams, load_backend
from releasegate.settings import Settings

TRAIN_SHARE = 55  # percent of prompts in the training split


def judge_prompt_split(prompt_id: str) -> str:
    """'train' or 'test' for a suite prompt id (a fixed hash, so the split never drifts)."""
    bucket = int(hashlib.sha256(f"judge-split:{prompt_id}".encode()).hexdigest(), 16) % 100
    return "train" if bucket < TRAIN_SHARE else "test"


def _plan(split: str, benign_n: int, harmful_n: int, jailbreaks: int) -> list[dict[str, object]]:
    harmful = read_jsonl(bundled_path("refusal/harmful.jsonl"), PromptRow).rows
    benign = read_jsonl(bundled_path("refusal/benign_sensitive.jsonl"), PromptRow).rows
    plan: list[dict[str, object]] = []
    for i, row in enumerate(benign):
        if judge_prompt_split(str(row.id)) == split and benign_n > 0:
            benign_n -= 1
            plan.append(
                {
                    "prompt_id": str(row.id),
                    "harmful": False,
                    "messages": [{"role": "user", "content": row.prompt}],
                    "max_tokens": 48 if i % 2 == 0 else 128,
                }
            )
    names = sorted(TRANSFORMS)
    wrapped = 0
    for i, row in enumerate(harmful):
        if judge_prompt_split(str(row.id)) != split or harmful_n <= 0:
            continue
        harmful_n -= 1
        plan.append(
            {
                "prompt_id": str(row.id),
                "harmful": True,
                "messages": [{"role": "user", "content": row.prompt}],
                "max_tokens": 48,
            }
        )
        if wrapped < jailbreaks:
            name = names[i % len(names)]
            plan.append(
                {
                    "prompt_id": f"{row.id}/{name}",
                    "harmful": True,
                    "messages": TRANSFORMS[name](row.prompt),
                    "max_tokens": 48,
                }
            )
            wrapped += 1
    return plan


async def _run(spec: str, plan: list[dict[str, object]], out: Path) -> None:
    done: set[str] = set()
    if out.is_file():
        done = {json.loads(line)["prompt_id"] for line in out.read_text().splitlines() if line}
    backend = load_backend(spec, Settings())
    try:
        with out.open("a", encoding="utf-8") as handle:
            for item in plan:
                if item["prompt_id"] in done:
                    continue
                messages = [ChatMessage(**m) for m in item["messages"]]  # type: ignore[attr-defined]
                start = time.perf_counter()
                gen = await backend.chat(
                    messages, GenerationParams(max_tokens=int(str(item["max_tokens"])))
                )
                record = {**item, "source": spec, "response": gen.text}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                print(f"{item['prompt_id']}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    finally:
        await backend.aclose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="backend spec, e.g. bundled:smollm2")
    parser.add_argument("--split", choices=("train", "test"), required=True)
    parser.add_argument("--benign", type=int, default=30, help="benign requests")
    parser.add_argument("--harmful", type=int, default=45, help="harmful requests")
    parser.add_argument("--jailbreaks", type=int, default=25, help="wrapped harmful requests")
    parser.add_argument("--out", type=Path, required=True, help="raw JSONL (never committed)")
    args = parser.parse_args()
    plan = _plan(args.split, args.benign, args.harmful, args.jailbreaks)
    print(f"{len(plan)} prompts for {args.model} ({args.split})", file=sys.stderr)
    asyncio.run(_run(args.model, plan, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
