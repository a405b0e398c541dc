"""`releasegate` entry point. Each command group lives in its own module and is added here."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from releasegate._cli import (
    access,
    assess,
    audit,
    decide,
    decision,
    demo,
    finetune,
    guards,
    incidents,
    judge,
    keys,
    plugins,
    policy,
    principals,
    schema,
    serve,
    signers,
    stage,
)
from releasegate._cli._common import safe
from releasegate.errors import InputError

app = typer.Typer(
    name="releasegate",
    help="Assess a model, decide how far to open it, share it that far, and oversee it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# One module per command group; each is added here, explicitly.
app.command("decide")(decide.decide_command)
app.add_typer(policy.app, name="policy")
app.command("schema")(schema.schema_command)
app.command("demo")(demo.demo_command)

app.command("serve")(serve.serve_command)
app.command("admin-token")(serve.admin_token_command)
app.add_typer(keys.app, name="keys")
app.add_typer(principals.app, name="principals")
app.add_typer(access.app, name="access")
app.add_typer(audit.app, name="audit")
app.add_typer(decision.app, name="decision")
app.add_typer(signers.app, name="signers")
app.add_typer(stage.app, name="stage")
app.command("assess")(assess.assess_command)
app.add_typer(guards.app, name="guards")
app.add_typer(judge.app, name="judge")
app.add_typer(incidents.app, name="incidents")
app.add_typer(plugins.app, name="plugins")
app.add_typer(finetune.app, name="finetune")


def main() -> None:
    """Run the CLI; bad input is reported on stderr with exit code 2."""
    try:
        app()
    except InputError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {safe(str(exc))}", highlight=False)
        sys.exit(2)
