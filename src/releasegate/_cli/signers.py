"""`releasegate signers create|list|revoke`: the people who sign decisions, and their keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from releasegate._cli._common import console, safe
from releasegate._cli._store import READ, cli_store

app = typer.Typer(
    help="Register, list and revoke the people who sign decisions.", no_args_is_help=True
)


@app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="the signer's name (one person, one name)")],
    role: Annotated[
        list[str],
        typer.Option("--role", help="a role they sign in (repeat for several)"),
    ],
    key_out: Annotated[
        Path,
        typer.Option(
            "--key-out",
            help="file to write the private key to (0600; it must not exist). Only its holder "
            "should ever read it.",
        ),
    ],
) -> None:
    """Make an Ed25519 key pair, register the public key for NAME, write the private key."""
    from releasegate.approvals import SignerRegistry

    with cli_store("admin") as store:
        signer = SignerRegistry(store.sessions, store.audit).create(
            name, role, key_out, actor=store.actor
        )
        store.announce()
    con = console()
    con.print(f"signer [bold]{signer.name}[/] ({', '.join(signer.roles)}), key {signer.key_id}")
    con.print(f"private key written to {key_out} (0600): keep it; it is not stored anywhere else")


@app.command("list")
def list_command(
    active: Annotated[bool, typer.Option("--active", help="only unrevoked signers")] = False,
    keys: Annotated[
        bool,
        typer.Option(
            "--keys",
            help="print the active public keys, comma-separated, for "
            "RELEASEGATE_TRUSTED_SIGNER_KEYS (and to publish)",
        ),
    ] = False,
) -> None:
    """Every registered signer key, revoked ones included unless --active."""
    from releasegate.approvals import SignerRegistry

    with cli_store(*READ) as store:
        signers = SignerRegistry(store.sessions, store.audit).list(include_revoked=not active)
    if keys:
        typer.echo(",".join(s.public_key for s in signers if s.active))
        return
    table = Table(header_style="bold")
    for column in ("name", "roles", "key id", "created", "revoked"):
        table.add_column(column, overflow="fold")
    for s in signers:
        table.add_row(
            safe(s.name),
            safe(", ".join(s.roles)),
            safe(s.key_id),
            s.created_at.isoformat()[:19],
            f"{s.revoked_at.isoformat()[:19]} {safe(s.revoked_reason or '')}"
            if s.revoked_at
            else "",
        )
    console().print(table)
    console().print(f"{len(signers)} signer key(s)")


@app.command("revoke")
def revoke_command(
    name: Annotated[str, typer.Argument(help="the signer whose active key to revoke")],
    reason: Annotated[str | None, typer.Option("--reason", help="why (kept and audited)")] = None,
) -> None:
    """Revoke a signer's key: their approvals stop counting on every gateway within a second."""
    from releasegate.approvals import SignerRegistry

    with cli_store("admin") as store:
        signer = SignerRegistry(store.sessions, store.audit).revoke(
            name, actor=store.actor, reason=reason
        )
        store.announce()
    console().print(
        f"revoked {safe(signer.name)}'s key {safe(signer.key_id)}; their approvals no longer count"
    )
