"""Benchmark of the research endpoints against calling transformers directly (CPU).

Side by side in one run, on the same converted SmolLM2-135M-Instruct directory (two loads of
it: one behind the gateway, one for the direct calls), interleaved request by request; a third
column calls the backend's research primitive (`HFBackend.hidden_states` ...) alone, so the
gateway's own cost (gateway − backend) is told apart from the backend's:

- `hidden_states` (3 layers, every token; and 3 layers mean-pooled) vs `model(...,
  output_hidden_states=True)` with those layers copied out to numpy;
- `logit_lens` (3 layers, top-5 at every position) vs the same forward pass, then final norm,
  `lm_head`, softmax and top-k at those layers;
- `steer` (a vector added at layer 10, 16 greedy tokens) vs a forward hook on that block and
  `model.generate`.

The gateway runs in process (the real app over ASGI with httpx: key authentication, tier check,
rate limits and quotas, the extraction budget in memory, the keyword input guard, the audit log
committed to SQLite before each response, and JSON encoding of the floats); the HTTP server
itself is not included (see the gateway overhead section of docs/benchmarks.md for its cost).

Usage: `.venv/bin/python bench/research.py [--rounds 30] [--tokens 32]`.
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

TEXT = (
    "Release decisions should follow a rigorous risk assessment, and where open weights are "
    "too risky, structured access can capture much of the benefit of openness with less risk."
)
LAYERS = [4, 15, 30]
STEER_LAYER = 10


def _direct(model: Any, ids: list[int], vector: Any, new_tokens: int) -> dict[str, Any]:
    import torch

    input_ids = torch.tensor([ids])
    norm, head = model.get_decoder().norm, model.get_output_embeddings()

    def hidden() -> Any:
        with torch.inference_mode():
            out = model(input_ids=input_ids, output_hidden_states=True)
            return [out.hidden_states[layer][0].numpy().copy() for layer in LAYERS]

    def pooled() -> Any:
        with torch.inference_mode():
            out = model(input_ids=input_ids, output_hidden_states=True)
            return [out.hidden_states[layer][0].mean(0).numpy() for layer in LAYERS]

    def lens() -> Any:
        with torch.inference_mode():
            out = model(input_ids=input_ids, output_hidden_states=True)
            # transformers' last entry is already normed: take the raw block output via logits
            result = []
            for layer in LAYERS:
                if layer == model.config.num_hidden_layers:
                    probs = torch.softmax(out.logits[0], -1)
                else:
                    probs = torch.softmax(head(norm(out.hidden_states[layer][0])), -1)
                result.append(torch.topk(probs, 5, dim=-1))
            return result

    def steer() -> Any:
        delta = torch.as_tensor(vector) * 4.0
        block = model.get_decoder().layers[STEER_LAYER - 1]
        handle = block.register_forward_hook(lambda _m, _i, out: out + delta)
        try:
            with torch.inference_mode():
                return model.generate(
                    input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    max_new_tokens=new_tokens,
                    do_sample=False,
                    pad_token_id=0,
                )
        finally:
            handle.remove()

    return {"hidden": hidden, "pooled": pooled, "lens": lens, "steer": steer}


async def _bench(rounds: int, new_tokens: int) -> dict[str, dict[str, float]]:
    import numpy as np
    import torch
    from tests.helpers.gateway import (
        bearer,
        decision_at,
        gateway_settings,
        keyword_tiers,
        new_key,
        running,
    )
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from releasegate.backends import (
        ChatMessage,
        GenerationParams,
        HFBackend,
        ensure_bundled_model,
    )
    from releasegate.gateway import create_app
    from releasegate.settings import Settings
    from releasegate.vocab import AccessLevel

    torch.manual_seed(0)
    model_dir = ensure_bundled_model("smollm2", Settings(device="cpu"))
    backend = HFBackend(model_dir, name="bundled:smollm2", device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, local_files_only=True, dtype=torch.float32
    ).eval()
    ids = tokenizer(TEXT)["input_ids"]
    vector = np.random.default_rng(0).standard_normal(576).astype(np.float32)
    direct = _direct(model, ids, vector, new_tokens)

    tiers = keyword_tiers(
        researcher={"rpm": None, "tpm": None, "daily_tokens": None, "extraction_budget": 10**12}
    )
    tmp = Path(tempfile.mkdtemp(prefix="rg-bench-research-"))
    app = create_app(
        gateway_settings(tmp),
        backend=backend,
        decision=decision_at(AccessLevel.RESEARCH_API),
        tiers=tiers,
    )
    model_name = "bundled:smollm2"
    requests = {
        "hidden": ("hidden_states", {"input": TEXT, "layers": LAYERS}),
        "pooled": ("hidden_states", {"input": TEXT, "layers": LAYERS, "pool": "mean"}),
        "lens": ("logit_lens", {"input": TEXT, "layers": LAYERS, "top_k": 5}),
        # the steering prompt is the raw text through the chat template; direct gets the same ids
        "steer": (
            "steer",
            {
                "messages": [{"role": "user", "content": TEXT}],
                "layer": STEER_LAYER,
                "vector": vector.tolist(),
                "scale": 4.0,
                "max_tokens": new_tokens,
            },
        ),
    }
    # steering: the direct call must see the same prompt ids as the endpoint (chat template)
    chat_ids = backend.chat_prompt_ids([ChatMessage(role="user", content=TEXT)])
    direct["steer"] = _direct(model, chat_ids, vector, new_tokens)["steer"]

    messages = [ChatMessage(role="user", content=TEXT)]
    primitive = {  # the backend's research primitives alone, without the gateway
        "hidden": lambda: backend.hidden_states(TEXT, LAYERS, "none"),
        "pooled": lambda: backend.hidden_states(TEXT, LAYERS, "mean"),
        "lens": lambda: backend.logit_lens(TEXT, LAYERS, 5),
        "steer": lambda: backend.steer_generate(
            messages, STEER_LAYER, vector, 4.0, GenerationParams(max_tokens=new_tokens)
        ),
    }
    times: dict[str, dict[str, list[float]]] = {
        k: {"direct": [], "backend": [], "gateway": []} for k in requests
    }
    async with running(app) as client:
        key = await new_key(client, "researcher", owner="bench")
        for kind, (route, body) in requests.items():
            payload = {"model": model_name, **body}
            for i in range(rounds + 2):  # two untimed warm-up rounds
                start = time.perf_counter()
                await asyncio.to_thread(direct[kind])
                d = time.perf_counter() - start
                start = time.perf_counter()
                await primitive[kind]()
                b = time.perf_counter() - start
                start = time.perf_counter()
                r = await client.post(f"/v1/research/{route}", json=payload, headers=bearer(key))
                g = time.perf_counter() - start
                if r.status_code != 200:
                    raise RuntimeError(f"{route}: {r.status_code} {r.text[:300]}")
                if kind == "steer" and i == 0:
                    out = await asyncio.to_thread(direct[kind])
                    steered = (
                        int(out.shape[1]) - len(chat_ids),
                        r.json()["usage"]["completion_tokens"],
                    )
                    if steered[0] != steered[1]:
                        raise RuntimeError(
                            f"steer: direct {steered[0]} vs gateway {steered[1]} tokens"
                        )
                if i >= 2:
                    times[kind]["direct"].append(d)
                    times[kind]["backend"].append(b)
                    times[kind]["gateway"].append(g)
    await backend.aclose()
    return {
        kind: {side: statistics.median(values) * 1000 for side, values in sides.items()}
        for kind, sides in times.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=16, help="generated tokens when steering")
    args = parser.parse_args()
    import sys

    sys.path.insert(0, str(ROOT))
    results = asyncio.run(_bench(args.rounds, args.tokens))
    print(
        f"# {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"medians of {args.rounds} rounds"
    )
    print(
        "| request | transformers direct ms | backend primitive ms | gateway endpoint ms "
        "| gateway / direct | gateway − backend ms |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    names = {
        "hidden": "hidden_states, 3 layers × every token",
        "pooled": "hidden_states, 3 layers, mean-pooled",
        "lens": "logit_lens, 3 layers, top-5",
        "steer": f"steer, layer {STEER_LAYER}, {args.tokens} tokens",
    }
    for kind, row in results.items():
        d, b, g = row["direct"], row["backend"], row["gateway"]
        print(f"| {names[kind]} | {d:.1f} | {b:.1f} | {g:.1f} | {g / d:.2f} | {g - b:.1f} |")


if __name__ == "__main__":
    main()
