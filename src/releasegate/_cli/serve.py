"""`releasegate serve --model SPEC --decision PATH_OR_ID`: the structured-access gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from releasegate._cli._common import console, err_console, safe

if TYPE_CHECKING:
    from releasegate._cli._store import CliStore
    from releasegate.gateway._server import ServePlan

DEV_BANNER = """\
[bold white on red]                                                                          [/]
[bold white on red]  DEVELOPMENT MODE (--dev): NO SIGNED DECISION BINDS THIS GATEWAY.         [/]
[bold white on red]  Signatures, expiry and the model fingerprint are not checked. Every      [/]
[bold white on red]  model entry and every response is marked unreviewed. Never expose it.    [/]
[bold white on red]                                                                          [/]"""


def serve_command(
    model: Annotated[
        str, typer.Option(help="Model spec: bundled:smollm2, hf:PATH or openai:BASE_URL#MODEL.")
    ],
    decision: Annotated[
        str | None,
        typer.Option(
            help="The decision to enforce: a decision.json (or its directory), or the id of a "
            "stored decision. It must be signed off (N of M), unexpired, and made for this "
            "model. Required unless --dev."
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            help="Policy (file or bundled name) with the access_tiers to offer; it must be the "
            "decision's (default: the policy stored with the decision)."
        ),
    ] = None,
    served_model_name: Annotated[
        str | None,
        typer.Option(
            "--served-model-name",
            help="The model id clients use (default: a short name from the spec, e.g. "
            "smollm2-guarded; never the spec, URL, host or port).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    dev: Annotated[
        bool,
        typer.Option(help="Local trials: no admin token or signed decision needed; loudly marked."),
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the model behind the gateway, only as far as the signed decision allows.

    Refuses to start (exit 2, before binding the port) when the decision is pending, rejected,
    halted, expired, does not verify, or was made for another model; the refusal is audited.
    """
    from releasegate._cli._store import cli_errors, cli_store
    from releasegate.gateway import DecisionForbidsServing, GatewayConfigError
    from releasegate.gateway._server import ServeRefused, plan_serve, serve
    from releasegate.store._types import utcnow

    with cli_store() as store:
        settings = store.settings
        if served_model_name is not None:
            settings = settings.model_copy(update={"served_model_name": served_model_name})
        if settings.admin_token is not None:
            from releasegate._util.tokens import GENERATE_HINT, token_problem

            problem = token_problem(settings.admin_token.get_secret_value())
            if problem is not None:  # --dev included: a guessable token is worse than none
                _refuse(
                    store,
                    "weak_admin_token",
                    f"the admin token (RELEASEGATE_ADMIN_TOKEN) is too weak: {problem}; "
                    f"{GENERATE_HINT}",
                    model,
                    decision,
                )
        if dev:
            err_console().print(DEV_BANNER)
        elif settings.admin_token is None and not _has_admin(store):
            _refuse(
                store,
                "no_admin_token",
                "no admin: make the first one with `releasegate principals bootstrap NAME` (or "
                "set RELEASEGATE_ADMIN_TOKEN; `releasegate admin-token` prints a fresh one), or "
                "run with --dev for local development",
                model,
                decision,
            )
        from releasegate._cli.decide import resolve_policy_path

        try:
            plan = plan_serve(
                store.sessions,
                model=model,
                decision=decision,
                policy_path=resolve_policy_path(policy) if policy else None,
                dev=dev,
                now=utcnow(),
                trusted_keys=store.trusted_keys,
            )
        except ServeRefused as exc:
            if exc.code == "new_fingerprint" and exc.decision_id is not None:
                _fire_fingerprint_trigger(store, exc.decision_id, exc.fingerprint, str(exc))
            _refuse(store, exc.code, str(exc), model, decision)
        _print_plan(plan)
    with cli_errors():
        try:
            serve(
                settings, model=model, plan=plan, host=host, port=port, dev=dev, log_level=log_level
            )
        except (GatewayConfigError, DecisionForbidsServing) as exc:
            err_console().print(
                f"[bold red]refusing to serve:[/] {safe(str(exc))}", highlight=False
            )
            raise typer.Exit(2) from exc


def _has_admin(store: CliStore) -> bool:
    """An active principal holds the admin role (the admin API has someone to answer)."""
    from sqlalchemy import select

    from releasegate.store.tables.access import PrincipalRow

    with store.sessions() as session:
        active = session.scalars(select(PrincipalRow).where(PrincipalRow.suspended_at.is_(None)))
        return any("admin" in row.roles for row in active)


def _refuse(store: CliStore, code: str, message: str, model: str, decision: str | None) -> NoReturn:
    """Print why serve will not start, audit the refusal, exit 2."""
    try:
        store.audit_admin(
            "serve.refused", reason=code, message=message, model=model, decision=decision
        )
    except Exception as exc:  # the refusal stands even if it cannot be recorded
        err_console().print(f"[yellow]could not audit the refusal:[/] {safe(str(exc))}")
    err_console().print(
        f"[bold red]refusing to serve ({code}):[/] {safe(message)}", highlight=False
    )
    raise typer.Exit(2)


def _fire_fingerprint_trigger(
    store: CliStore, decision_id: str, fingerprint: str, message: str
) -> None:
    """The decision's model has new weights: fire its `model_fingerprint` triggers (if its
    policy defines any), so every gateway serving it steps down to the trigger's fallback."""
    from releasegate._cli.decision import rerender
    from releasegate.approvals import fire_trigger

    try:
        fired = fire_trigger(
            store.sessions,
            store.audit,
            decision_id,
            kind="model_fingerprint",
            reason=message,
            actor=store.actor,
            details={"fingerprint": fingerprint},
        )
    except Exception as exc:  # the refusal stands either way; say what could not be recorded
        err_console().print(f"[yellow]could not fire the fingerprint trigger:[/] {safe(exc)}")
        return
    if not fired:
        return
    store.announce()
    for trigger in fired:
        err_console().print(
            f"[bold red]trigger {safe(trigger.trigger_id)} fired:[/] decision {decision_id} "
            f"needs reassessment; its weights fall back to {trigger.fallback.value}"
        )
    rerender(store, decision_id)


def _print_plan(plan: ServePlan) -> None:
    con = console()
    o = plan.openness
    if plan.decision_id is not None:
        con.print(f"decision [bold]{plan.decision_id}[/]: {o.status}; weights at {o.weights.value}")
    if o.stage is not None:
        con.print(f"staged release: stage [bold]{safe(o.stage)}[/] (releasegate stage status)")
    if plan.fingerprint is not None:
        label = "verified" if plan.fingerprint.verified else "unverified"
        con.print(f"model fingerprint {plan.fingerprint.value} ({label})")
    for note in plan.notes:
        con.print(f"[yellow]note:[/] {safe(note)}")
    con.print(f"tiers served: {', '.join(o.open_tiers)}")
    for name, reason in o.withheld.items():
        con.print(f"[yellow]withheld[/] {name}: {safe(reason)}")


def admin_token_command() -> None:
    """Print a fresh admin token (32 random bytes, base64url) for RELEASEGATE_ADMIN_TOKEN.

    The gateway refuses to start with a weaker one, --dev included.
    """
    from releasegate._util.tokens import generate_token

    typer.echo(generate_token())
