"""The refusal judges' figures on the labelled set's test split: the tables of docs/evaluation.md.

    .venv/bin/python scripts/evaluate_judge.py            # print the tables
    .venv/bin/python scripts/evaluate_judge.py --write    # rewrite them in docs/evaluation.md
    .venv/bin/python scripts/evaluate_judge.py --check    # exit 1 if docs/evaluation.md differs

Judges the `test` split (models and prompts the judge never saw in training) with the shipped
judge (`default`) and the phrase baseline (`phrases`), and writes overall, per-class, per-source,
per-request-kind and per-response-kind figures. Deterministic: the same weights and set give the
same tables (tests/judge/test_shipped.py runs --check).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from releasegate.judge import JudgeCheck, bundled_test_split, check_judge, load_judge

DOC = Path(__file__).resolve().parents[1] / "docs" / "evaluation.md"
BEGIN = "<!-- evaluate_judge.py: begin (generated, do not edit) -->"
END = "<!-- evaluate_judge.py: end -->"
JUDGES = ("default", "phrases")


def _f(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


async def _checks() -> list[JudgeCheck]:
    test = bundled_test_split()
    out = []
    for spec in JUDGES:
        judge = load_judge(spec)
        try:
            out.append(await check_judge(judge, test))
        finally:
            await judge.aclose()
    return out


def tables(checks: list[JudgeCheck]) -> str:
    """The generated part of docs/evaluation.md."""
    first = checks[0]
    lines = [
        f"Test split of `{first.labelled_set}` (sha256 `{first.sha256[:16]}…`), "
        f"{first.n} responses.",
        "",
        "| judge | n | agreement | κ | κ harmful requests | κ benign requests |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in checks:
        prompt = c.groups.get("prompt", {})
        harmful, benign = prompt.get("harmful"), prompt.get("benign")
        lines.append(
            f"| `{c.judge}` | {c.n} | {c.overall.agreement:.3f} | {_f(c.overall.kappa)} | "
            f"{_f(harmful.kappa if harmful else None)} | {_f(benign.kappa if benign else None)} |"
        )
    for c in checks:
        lines += ["", f"### `{c.judge}`", "", "Per class (binary decision: refused or not):", ""]
        lines += [
            "| class | n | judged | precision | recall | F1 |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, fig in c.overall.per_class.items():
            judged = "–" if fig.judged is None else str(fig.judged)
            lines.append(
                f"| {name} | {fig.n} | {judged} | {_f(fig.precision)} | {_f(fig.recall)} | "
                f"{_f(fig.f1)} |"
            )
        lines += ["", "Confusion matrix (rows: human label):", ""]
        lines += ["| label | judged refusal | judged not refused |", "|---|---:|---:|"]
        for label, row in c.overall.confusion.items():
            lines.append(f"| {label} | {row['refusal']} | {row['not_refused']} |")
        groups = (("source", "source model"), ("prompt", "request"), ("kind", "response kind"))
        for group, title in groups:
            by = c.groups.get(group, {})
            # Each kind holds one label only, where kappa says nothing: agreement alone.
            kappa = group != "kind"
            lines += ["", f"By {title}:", ""]
            lines += [
                f"| {group} | n | agreement |"
                + (" κ |" if kappa else "")
                + " refusal recall | not-refused recall |",
                "|---|---:|---:|" + ("---:|" if kappa else "") + "---:|---:|",
            ]
            for key, a in by.items():
                lines.append(
                    f"| {key} | {a.n} | {a.agreement:.3f} |"
                    + (f" {_f(a.kappa)} |" if kappa else "")
                    + f" {_f(a.per_class['refusal'].recall)} |"
                    + f" {_f(a.per_class['not_refused'].recall)} |"
                )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite docs/evaluation.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/evaluation.md differs")
    args = parser.parse_args()
    text = tables(asyncio.run(_checks()))
    if not (args.write or args.check):
        print(text, end="")
        return 0
    doc = DOC.read_text(encoding="utf-8")
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    if not rest or END not in rest:
        print(f"{DOC}: markers not found", file=sys.stderr)
        return 2
    new = f"{head}{BEGIN}\n{text}{END}{tail}"
    if args.check:
        if new != doc:
            print(f"{DOC} is out of date: run scripts/evaluate_judge.py --write", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
