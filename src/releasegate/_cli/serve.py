"""`releasegate serve --model SPEC --decision DECISION.json`: the structured-access gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from releasegate._cli._common import err_console


def serve_command(
    model: Annotated[
        str, typer.Option(help="Model spec: bundled:smollm2, hf:PATH or openai:BASE_URL#MODEL.")
    ],
    decision: Annotated[
        Path | None,
        typer.Option(help="decision.json from `releasegate decide`; required unless --dev."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            help="Policy (file or bundled name) with the access_tiers to offer (the decision's)."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    dev: Annotated[
        bool,
        typer.Option(help="Local development: allow no admin token and no decision."),
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the model behind the gateway, only as far as the decision allows."""
    from releasegate.gateway import DecisionForbidsServing, GatewayConfigError
    from releasegate.gateway._server import load_decision, load_tiers, serve
    from releasegate.settings import Settings

    loaded = load_decision(decision) if decision is not None else None
    from releasegate._cli.decide import resolve_policy_path

    tiers = load_tiers(resolve_policy_path(policy) if policy else None, loaded)
    settings = Settings()
    try:
        serve(
            settings,
            model=model,
            decision=loaded,
            tiers=tiers,
            host=host,
            port=port,
            dev=dev,
            log_level=log_level,
        )
    except (GatewayConfigError, DecisionForbidsServing) as exc:
        err_console().print(f"[bold red]refusing to serve:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from exc
