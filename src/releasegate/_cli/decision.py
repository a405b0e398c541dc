"""`releasegate decision list|show|approve|record`: stored decisions and their sign-off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from releasegate._cli._common import console
from releasegate._cli._store import cli_store, fail
from releasegate.approvals import DecisionRecord, DecisionRegistry

app = typer.Typer(help="List, show and sign off stored decisions.", no_args_is_help=True)

_STATUS = {"pending": "yellow", "approved": "green", "halted": "bold red"}


def _status(record: DecisionRecord) -> str:
    return f"[{_STATUS.get(record.status, 'white')}]{record.status}[/]"


@app.command("list")
def list_command(
    status: Annotated[
        str | None, typer.Option(help="only decisions with this status (pending, approved, halted)")
    ] = None,
) -> None:
    """Every stored decision, newest first."""
    if status is not None and status not in _STATUS:
        fail(f"--status {status!r}: one of {', '.join(_STATUS)}")
    with cli_store() as store:
        records = DecisionRegistry(store.sessions).list(status=status)
    table = Table(header_style="bold")
    for column in ("id", "created", "model", "policy", "status", "weights", "sign-off"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            r.id,
            r.created_at.isoformat()[:19],
            r.model_name,
            f"{r.policy_name} {r.policy_version}",
            _status(r),
            r.levels.get("weights", "?"),
            f"{len(r.signoffs)}/{r.required}",
        )
    console().print(table)
    console().print(f"{len(records)} decision(s)")


def _print_record(record: DecisionRecord) -> None:
    con = console()
    con.print(
        f"decision [bold]{record.id}[/]: {record.model_name} under {record.policy_name} "
        f"{record.policy_version}: {_status(record)}"
    )
    con.print(f"content sha256: {record.content_sha256}")
    con.print(f"recorded: {record.created_at.isoformat()}")
    levels = Table(header_style="bold", title="levels")
    levels.add_column("component")
    levels.add_column("most open level")
    for component, level in record.levels.items():
        levels.add_row(component, level)
    con.print(levels)
    signoffs = Table(
        header_style="bold",
        title=f"sign-off: {record.required} of {', '.join(record.roles)}",
    )
    for column in ("role", "signer", "signed at"):
        signoffs.add_column(column, overflow="fold")
    for s in record.signoffs:
        signoffs.add_row(s.role, s.signer, s.signed_at.isoformat())
    con.print(signoffs)
    if record.status == "approved" and record.approved_at is not None:
        con.print(f"[green]approved[/] at {record.approved_at.isoformat()}")
    elif record.status == "pending":
        con.print(f"{record.missing} more sign-off(s) needed")


@app.command("show")
def show_command(
    decision_id: Annotated[str, typer.Argument(help="decision id or a unique prefix")],
    as_json: Annotated[bool, typer.Option("--json", help="print the full decision JSON")] = False,
) -> None:
    """A decision's levels and sign-offs (or, with --json, the whole stored decision)."""
    with cli_store() as store:
        record = DecisionRegistry(store.sessions).get(decision_id)
    if as_json:
        data = json.loads(record.decision_json)
        data["stored"] = {
            "id": record.id,
            "status": record.status,
            "approved_at": record.approved_at.isoformat() if record.approved_at else None,
            "signoffs": [
                {"role": s.role, "signer": s.signer, "signed_at": s.signed_at.isoformat()}
                for s in record.signoffs
            ],
        }
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    _print_record(record)


@app.command("approve")
def approve_command(
    decision_id: Annotated[str, typer.Argument(help="decision id or a unique prefix")],
    role: Annotated[str, typer.Option("--role", help="the role you sign for")],
    by: Annotated[str, typer.Option("--by", help="your name")],
) -> None:
    """Sign a decision for one role; it is approved once the policy's N of M roles signed."""
    with cli_store() as store:
        record = DecisionRegistry(store.sessions).approve(decision_id, role, by)
        store.audit_admin(
            "decision.approve",
            decision_id=record.id,
            role=role,
            signer=by.strip(),
            status=record.status,
        )
    _print_record(record)


@app.command("record")
def record_command(
    decision_file: Annotated[Path, typer.Argument(help="a decision.json written by decide")],
) -> None:
    """Store a decision made elsewhere (decide records its own decisions already)."""
    from releasegate._util.load import load_model
    from releasegate.policy import Decision

    decision = load_model(Decision, decision_file)
    with cli_store() as store:
        record = DecisionRegistry(store.sessions).record(decision)
        store.audit_admin("decision.record", decision_id=record.id)
    _print_record(record)
