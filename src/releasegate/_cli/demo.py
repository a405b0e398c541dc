"""`releasegate demo`: the main job on bundled defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from releasegate._cli._common import console
from releasegate._cli.decide import print_summary, run_decide
from releasegate.evidence import example_report_path
from releasegate.policy import bundled_policy_path


def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="output directory")] = Path("demo-out"),
) -> None:
    """Decide on the bundled example report with the default policy; write to ./demo-out."""
    report = example_report_path()
    con = console()
    con.print(f"[bold]decide[/] {report.name} with the bundled default policy")
    # The demo owns its output directory, so a second run replaces the first.
    decision, _, _ = run_decide(report, bundled_policy_path("default"), out, force=True)
    print_summary(decision, out, con)
    con.print(f"open {out / 'decision.html'} in a browser to review the decision")
