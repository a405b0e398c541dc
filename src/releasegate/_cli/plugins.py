"""`releasegate plugins list`: every registered backend and guard, and where it comes from."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from releasegate._cli._common import console

app = typer.Typer(
    help="Show the registered plugins (backends, guards) and the packages they come from.",
    no_args_is_help=True,
)


@app.command("list")
def list_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON lines instead of a table.")
    ] = False,
) -> None:
    """List every registered backend prefix and guard name with the package that declares it."""
    from releasegate.backends import BACKENDS
    from releasegate.guards import GUARDS

    plugins = [*BACKENDS.plugins(), *GUARDS.plugins()]
    if as_json:
        for p in plugins:
            typer.echo(
                json.dumps({"kind": p.kind, "name": p.name, "value": p.value, "source": p.source})
            )
        return
    table = Table("kind", "name")
    table.add_column("object", overflow="fold")
    table.add_column("from", overflow="fold")
    for p in plugins:
        table.add_row(p.kind, p.name, p.value, p.source)
    console().print(table)
