"""`releasegate audit verify|export`: check and export the hash-chained audit log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from releasegate._cli._common import console, err_console
from releasegate._cli._store import READ, cli_errors, cli_store

app = typer.Typer(help="Verify and export the tamper-evident audit log.", no_args_is_help=True)


@app.command("verify")
def verify_command(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="verify an exported JSONL file instead of the store (same HMAC key)"
        ),
    ] = None,
) -> None:
    """Check every record: order, links, hashes and HMACs. Exit 1 naming the first bad record."""
    from releasegate.audit import VerifyResult, audit_log_from_settings, verify_jsonl

    result: VerifyResult
    if file is not None:
        with cli_errors():
            from releasegate.audit import resolve_audit_hmac_key
            from releasegate.settings import Settings

            key = resolve_audit_hmac_key(Settings())
            with file.open(encoding="utf-8") as handle:
                result = verify_jsonl(handle, key)
    else:
        with cli_store(*READ) as store:
            result = audit_log_from_settings(store.settings, store.sessions).verify()
    if result.ok:
        console().print(
            f"[green]ok[/]: {result.checked} record(s), chain intact up to seq {result.head_seq}"
        )
        return
    err_console().print(
        f"[bold red]broken:[/] {result.reason}; the {result.checked} record(s) before it verified",
        highlight=False,
    )
    raise typer.Exit(1)


@app.command("export")
def export_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="JSONL file to write (default: stdout)")
    ] = None,
) -> None:
    """Write every record as JSON Lines, in chain order (a file is written atomically)."""
    from releasegate.audit import audit_log_from_settings

    with cli_store("admin", "auditor", "safety_lead") as store:
        log = audit_log_from_settings(store.settings, store.sessions)
        if out is None:
            log.export(sys.stdout)
            sys.stdout.flush()
            return
        count = log.export(out)
    err_console().print(f"wrote {count} record(s) to {out}")
