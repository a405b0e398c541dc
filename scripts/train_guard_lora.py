"""Fine-tune the embedding guard's encoder with LoRA (experiment of issue 17): low-rank
adapters on the first four layers of all-MiniLM-L6-v2 and a logistic head on their mean-pooled
output, trained on the training files' pieces, scored with the same numpy forward pass the
gateway runs.

    .venv/bin/python scripts/train_guard_lora.py --out guard_lora.npz [--epochs 3]

Rows are split 80/20 (stratified, seeded): the adapters and head train on 80 %, the threshold is
the lowest whose false-positive rate on each benign source of the other 20 % is within
`--target-fpr`. The held-out splits are never read. Deterministic for a given torch build
(seeded, one thread).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from releasegate.guards._data import bundled_split, load_examples
from releasegate.guards._minilm import model_dir
from releasegate.guards._train import eval_variants, guard_pieces, pick_threshold, training_pieces

TRAIN = ("train", "train_everyday", "train_safety", "public_dna_malicious", "public_advbench")
LAYERS = 4
MODULES = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--target-fpr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, BertModel

    rows = [r for n in TRAIN for r in load_examples(bundled_split(n))]  # type: ignore[arg-type]
    rng = np.random.default_rng(args.seed)
    val = np.zeros(len(rows), dtype=bool)
    for label in ("harmful", "benign"):
        idx = np.array([i for i, r in enumerate(rows) if r.label == label])
        rng.shuffle(idx)
        val[idx[: len(idx) // 5]] = True
    pieces: dict[str, float] = {}
    for i, r in enumerate(rows):
        if not val[i]:
            for p in training_pieces(r.text):
                pieces[p] = max(pieces.get(p, 0.0), float(r.harmful))
    texts = list(pieces)
    labels = torch.tensor([pieces[t] for t in texts])
    print(f"{len(texts)} training pieces, {int(labels.sum())} harmful", file=sys.stderr)

    path = model_dir()
    tok = AutoTokenizer.from_pretrained(str(path))
    bert = BertModel.from_pretrained(str(path), add_pooling_layer=False)
    bert.encoder.layer = bert.encoder.layer[:LAYERS]
    config = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.05,
                        target_modules=list(MODULES))  # fmt: skip
    model = get_peft_model(bert, config)
    head = torch.nn.Linear(384, 1)
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    pos_weight = torch.tensor((len(labels) - labels.sum()) / labels.sum())
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def embed(batch: list[str]) -> torch.Tensor:
        enc = tok(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
        hidden = model(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        return (hidden * mask).sum(1) / mask.sum(1)

    started = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(texts))
        total = 0.0
        for start in range(0, len(texts), 32):
            idx = order[start : start + 32]
            logits = head(embed([texts[int(i)] for i in idx])).squeeze(-1)
            loss = loss_fn(logits, labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}: loss {total / len(texts):.4f} "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)  # fmt: skip

    model.eval()

    @torch.no_grad()
    def score(text: str) -> float:
        ps = guard_pieces(text)
        return float(torch.sigmoid(head(embed(ps))).max())

    sources: dict[str, list[float]] = {}
    harmful: list[float] = []
    for i, r in enumerate(rows):
        if not val[i]:
            continue
        if r.harmful:
            harmful.extend(score(v) for v in eval_variants(r))
        else:
            sources.setdefault(r.id.split("-")[0], []).append(score(r.text))
    threshold = max(pick_threshold(np.array(v), args.target_fpr) for v in sources.values())
    recall = float(np.mean(np.array(harmful) >= threshold))
    print(f"validation: threshold {threshold:.3f}, recall {recall:.3f}", file=sys.stderr)

    arrays: dict[str, np.ndarray] = {}
    scale = config.lora_alpha / config.r
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            layer = int(name.split("layer.")[1].split(".")[0])
            key = name.split(f"layer.{layer}.")[1]
            a = module.lora_A["default"].weight.detach().numpy()
            b = module.lora_B["default"].weight.detach().numpy() * scale
            arrays[f"lora/{layer}/{key}/A"] = a.astype(np.float32)
            arrays[f"lora/{layer}/{key}/B"] = b.astype(np.float32)
    w = head.weight.detach().numpy()[0].astype(np.float64)
    np.savez_compressed(
        args.out,
        w=w.astype(np.float32),
        b=np.array(float(head.bias.detach()[0])),
        threshold=np.array(threshold),
        cat_w=np.zeros((0, 385), dtype=np.float32),
        layer=np.array(LAYERS - 1),
        mu=np.zeros(384, dtype=np.float32),
        sd=np.ones(384, dtype=np.float32),
        categories=np.array([], dtype=str),
        meta=np.array(f'{{"kind": "lora", "rank": {args.rank}, "epochs": {args.epochs}, '
                      f'"val_recall": {recall:.4f}, "target_fpr": {args.target_fpr}}}'),
        **arrays,
    )  # fmt: skip
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
