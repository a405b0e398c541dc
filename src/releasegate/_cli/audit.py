"""`releasegate audit verify|export|checkpoint`: check and export the hash-chained audit log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from releasegate._cli._common import console, err_console, safe
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
    checkpoint_key: Annotated[
        str | None,
        typer.Option(
            "--checkpoint-key",
            help="with --file: the public key (base64) its closing checkpoint must be signed "
            "with (default: the key directory's checkpoint key)",
        ),
    ] = None,
) -> None:
    """Check every record: order, links, hashes and HMACs, and that no signed checkpoint covers
    more records than there are (records cut off the end). Exit 1 naming the first problem."""
    from releasegate.audit import VerifyResult, audit_log_from_settings, verify_jsonl

    result: VerifyResult
    if file is not None:
        with cli_errors():
            from releasegate._util import ed25519
            from releasegate.audit import checkpoint_signing_key, resolve_audit_hmac_key
            from releasegate.settings import Settings

            settings = Settings()
            key = resolve_audit_hmac_key(settings)
            public = checkpoint_key or ed25519.public_key_b64(checkpoint_signing_key(settings))
            try:
                with file.open(encoding="utf-8", errors="strict") as handle:
                    result = verify_jsonl(handle, key, public)
            except (OSError, UnicodeDecodeError) as exc:
                err_console().print(f"[bold red]broken:[/] cannot read {safe(file)}: {safe(exc)}")
                raise typer.Exit(1) from exc
    else:
        with cli_store(*READ) as store:
            result = audit_log_from_settings(store.settings, store.sessions).verify()
    if result.ok:
        console().print(
            f"[green]ok[/]: {result.checked} record(s), chain intact up to seq {result.head_seq}"
        )
        return
    err_console().print(
        f"[bold red]broken:[/] {safe(result.reason)}; the {result.checked} record(s) before it "
        "verified",
        highlight=False,
    )
    raise typer.Exit(1)


@app.command("export")
def export_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="JSONL file to write (default: stdout)")
    ] = None,
) -> None:
    """Write every record as JSON Lines, in chain order, and a signed checkpoint as the last line
    (a file is written atomically)."""
    from releasegate.audit import audit_log_from_settings

    with cli_store("admin", "auditor", "safety_lead") as store:
        log = audit_log_from_settings(store.settings, store.sessions)
        if out is None:
            log.export(sys.stdout)
            sys.stdout.flush()
            return
        count = log.export(out)
    err_console().print(f"wrote {count} record(s) and a signed checkpoint to {safe(out)}")


@app.command("checkpoint")
def checkpoint_command() -> None:
    """Sign a checkpoint of the log as it is now (the gateway also does, at an interval)."""
    from releasegate.audit import audit_log_from_settings

    with cli_store() as store:
        checkpoint = audit_log_from_settings(store.settings, store.sessions).checkpoint()
    assert checkpoint is not None
    console().print(
        f"checkpoint: {checkpoint.seq} record(s), head {checkpoint.hash[:16]}…, "
        f"key {checkpoint.key_id}"
    )
