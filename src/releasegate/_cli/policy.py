"""`releasegate policy check FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from releasegate._cli._common import console
from releasegate.policy import load_policy

app = typer.Typer(help="Release policies.", no_args_is_help=True)


@app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(help="policy YAML to validate")],
) -> None:
    """Validate a policy: types, names, cutoff order and ranges, rule references (exit 2 if bad)."""
    policy = load_policy(file)
    indicators = len(policy.indicators())
    console().print(
        f"[green]ok[/] {file}: policy {policy.name} {policy.version}: "
        f"{len(policy.domains)} domains, {indicators} indicators, {len(policy.rules)} rules, "
        f"sign-off {policy.signoff.required} of {len(policy.signoff.roles)}"
    )
