"""`releasegate guards check|eval|list`: run the safety guards from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from releasegate.errors import InputError, Problem

app = typer.Typer(
    help="Run the safety guards (input/output filters) on text.", no_args_is_help=True
)

GuardOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--guard",
        "-g",
        help="Guard name (repeatable). Default: the 'default' guard.",
        show_default=False,
    ),
]


def _build(names: list[str] | None):  # type: ignore[no-untyped-def]
    from releasegate.guards import GuardError, build_guards
    from releasegate.settings import Settings

    try:
        return build_guards(names or ["default"], Settings())
    except GuardError as exc:
        raise InputError("--guard", [Problem(str(exc))]) from exc


def _text_of(line: str, number: int, fmt: str) -> str:
    stripped = line.strip()
    if fmt == "lines" or (fmt == "auto" and not stripped.startswith("{")):
        return line.rstrip("\r\n")
    try:
        obj = json.loads(stripped)
    except json.JSONDecodeError as exc:
        if fmt == "auto":
            return line.rstrip("\r\n")
        raise InputError("<stdin>", [Problem(f"not JSON: {exc.msg}", line=number)]) from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        if fmt == "auto" and not isinstance(obj, dict):
            return line.rstrip("\r\n")
        raise InputError("<stdin>", [Problem("needs a string field", path="text", line=number)])
    return str(obj["text"])


@app.command("check")
def check_command(
    guard: GuardOpt = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="'lines': each line is a text; 'jsonl': each line is an object with a 'text' "
            "field; 'auto': JSON objects with 'text' are read as JSONL, other lines as text.",
        ),
    ] = "auto",
) -> None:
    """Judge each line of stdin; write one JSON object per line:
    {"text", "flagged", "categories", "score"}. Exit 1 if a guard failed (fail closed)."""
    from releasegate.guards import GuardError
    from releasegate.guards._eval import sync_judge

    if fmt not in ("auto", "lines", "jsonl"):
        raise InputError("--format", [Problem(f"must be auto, lines or jsonl, not {fmt!r}")])
    judge = sync_judge(_build(guard))
    out = sys.stdout
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        text = _text_of(line, number, fmt)
        try:
            verdict = judge(text)
        except GuardError as exc:
            print(f"error: line {number}: {exc}", file=sys.stderr)
            raise typer.Exit(1) from exc
        record = {
            "text": text,
            "flagged": verdict.flagged,
            "categories": [c.value for c in verdict.categories],
            "score": round(verdict.score, 4),
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()


@app.command("eval")
def eval_command(
    guard: GuardOpt = None,
    split: Annotated[
        list[Path] | None,
        typer.Option(
            help="JSONL split to evaluate (repeatable: the rows of all are scored together). "
            "Default: the bundled held-out splits (heldout, heldout_benign_safety, "
            "public_harmbench)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Precision, recall (harmful rows plain and obfuscated: base64, leetspeak, zero-width,
    homoglyphs) and false-positive rate on the held-out splits, with Wilson 95 % intervals per
    hazard category (recall) and per benign source (false-positive rate)."""
    from rich.console import Console
    from rich.table import Table

    from releasegate.guards._data import bundled_split, load_examples
    from releasegate.guards._eval import evaluate, sync_judge_many

    paths = split or [
        bundled_split("heldout"),
        bundled_split("heldout_benign_safety"),
        bundled_split("public_harmbench"),
    ]
    rows = []
    for path in paths:
        if not path.is_file():
            raise InputError(str(path), [Problem("no such file")])
        rows.extend(load_examples(path))
    chain = _build(guard)
    report = evaluate(sync_judge_many(chain), rows)
    names = " + ".join(p.name for p in paths)
    if as_json:
        splits = [str(p) for p in paths]
        print(json.dumps({"splits": splits, "guard": chain.name, **report.as_dict()}, indent=2))
        return
    table = Table(title=f"guard '{chain.name}' on {names}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("harmful rows / benign rows", f"{report.harmful_rows} / {report.benign_rows}")
    table.add_row("precision", f"{report.precision:.3f}")
    table.add_row("precision (plain rows)", f"{report.precision_plain:.3f}")
    table.add_row("recall (plain + obfuscated)", f"{report.recall:.3f}")
    table.add_row("recall (plain) [95% CI]", str(report.recall_plain_ci))
    for cat, rate in report.recall_by_category.items():
        table.add_row(f"recall (plain, {cat})", str(rate))
    for name, value in report.recall_by_obfuscation.items():
        table.add_row(f"recall ({name})", f"{value:.3f}")
    table.add_row("false-positive rate [95% CI]", str(report.fpr_ci))
    for source, rate in report.fpr_by_source.items():
        table.add_row(f"false-positive rate ({source} rows)", str(rate))
    for name, value in report.fpr_by_obfuscation.items():
        table.add_row(f"false-positive rate ({name} benign, informative)", f"{value:.3f}")
    table.add_row("category accuracy", f"{report.category_accuracy:.3f}")
    table.add_row("ms per text (batched; latency: bench/guards.py)", f"{report.ms_per_request:.1f}")
    Console().print(table)


@app.command("list")
def list_command() -> None:
    """Names of the guards that can be configured (built in and installed entry points)."""
    from releasegate.guards import available_guards

    for name in available_guards():
        print(name)
