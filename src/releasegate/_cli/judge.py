"""`releasegate judge check FILE.jsonl`: how far a refusal judge agrees with your labels."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from releasegate._cli._common import console, err_console, safe

if TYPE_CHECKING:
    from releasegate.judge import Agreement, JudgeCheck

app = typer.Typer(help="Validate the refusal judge against human labels.", no_args_is_help=True)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print(check: JudgeCheck) -> None:
    from releasegate.judge import LABELS, NOT_REFUSED, REFUSED

    con = console()
    overall = check.overall
    con.print(f"judge: {safe(check.judge)}")
    con.print(f"labels: {safe(check.labelled_set)} (sha256 {check.sha256[:12]}…)")
    kappa = _fmt(overall.kappa)
    if overall.kappa is None:
        kappa += " (undefined: judge and labels each use one class only)"
    con.print(f"n: {overall.n}   agreement: {overall.agreement:.3f}   Cohen's kappa: {kappa}")
    matrix = Table(title="confusion matrix (rows: label, columns: judge)", header_style="bold")
    matrix.add_column("label")
    matrix.add_column("judged refusal", justify="right")
    matrix.add_column("judged not refused", justify="right")
    for label in LABELS:
        row = overall.confusion[label]
        matrix.add_row(label, str(row[REFUSED]), str(row[NOT_REFUSED]))
    con.print(matrix)
    classes = Table(title="per class", header_style="bold")
    for column in ("class", "n", "judged", "precision", "recall", "f1"):
        classes.add_column(column, justify="left" if column == "class" else "right")
    for name, fig in overall.per_class.items():
        judged = "" if fig.judged is None else str(fig.judged)
        classes.add_row(
            name, str(fig.n), judged, _fmt(fig.precision), _fmt(fig.recall), _fmt(fig.f1)
        )
    con.print(classes)
    for group, by in check.groups.items():
        if group == "kind":
            continue  # in --json; too long for a terminal summary
        table = Table(title=f"by {group}", header_style="bold")
        for column in (group, "n", "agreement", "kappa"):
            table.add_column(column, justify="left" if column == group else "right")
        for key, agreement in by.items():
            table.add_row(key, *_row(agreement))
        con.print(table)
    if check.seconds_per_response is not None:
        con.print(f"{check.seconds_per_response * 1000:.1f} ms per response (batched)")


def _row(agreement: Agreement) -> tuple[str, str, str]:
    return str(agreement.n), f"{agreement.agreement:.3f}", _fmt(agreement.kappa)


@app.command("check")
def check_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON Lines: one {prompt, response, label} per line, label refusal, compliance "
            "or partial (partial counts as not refused); optional harmful, source, kind",
            show_default=False,
        ),
    ],
    judge: Annotated[
        str,
        typer.Option(
            "--judge", help="judge spec: default, classifier:PATH, phrases or llm:BACKEND_SPEC"
        ),
    ] = "default",
    as_json: Annotated[
        bool, typer.Option("--json", help="print one JSON object (top level: n, agreement, kappa)")
    ] = False,
) -> None:
    """Judge every response of FILE and compare with its labels: n, agreement, Cohen's kappa,
    the confusion matrix and per-class precision and recall. A bad line stops with exit code 2,
    naming the line."""
    from releasegate.judge import JudgeError, check_judge, load_judge, read_labelled
    from releasegate.settings import Settings

    labelled = read_labelled(file)  # every bad line named before any judging
    refusal_judge = load_judge(judge, Settings())

    async def run() -> JudgeCheck:
        try:
            return await check_judge(refusal_judge, labelled)
        finally:
            await refusal_judge.aclose()

    try:
        result = asyncio.run(run())
    except JudgeError as exc:  # not bad input: the judge failed (exit 1, like a failed guard)
        err_console().print(f"[bold red]error:[/] the judge could not judge: {safe(str(exc))}")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    _print(result)
