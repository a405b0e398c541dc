"""`releasegate principals ...`: the people and service accounts who run releasegate, and their
roles. `bootstrap` makes the first admin directly in the store (only while there is none); the
other commands call the gateway's admin routes with your principal token."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from releasegate._cli._common import console, safe
from releasegate._cli._http import Gateway
from releasegate._cli._store import cli_store

app = typer.Typer(
    help="People and service accounts with roles, and their tokens.", no_args_is_help=True
)

Url = Annotated[
    str | None, typer.Option("--url", help="the gateway (default RELEASEGATE_GATEWAY_URL)")
]
Token = Annotated[
    str | None,
    typer.Option("--token", help="principal token (default RELEASEGATE_PRINCIPAL_TOKEN)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
Ref = Annotated[str, typer.Argument(help="the principal's id (prn_...) or name")]


def _print_token(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    con = console()
    con.print(f"[bold]{safe(data['name'])}[/] {data['id']} ({', '.join(data['roles'])})")
    con.print("token (shown once, store it now; set it as RELEASEGATE_PRINCIPAL_TOKEN):")
    con.print(data["token"], highlight=False, soft_wrap=True)


@app.command("bootstrap")
def bootstrap_command(
    name: Annotated[str, typer.Argument(help="the first admin's name")],
    email: Annotated[str | None, typer.Option("--email")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Make the first admin in the store and print their token once (refused once an admin
    exists: from then on, admins create principals)."""
    from releasegate.access import PrincipalStore

    with cli_store() as store:
        issued = PrincipalStore(store.sessions, store.audit).bootstrap(
            name, actor=store.actor, email=email
        )
    _print_token({**issued.principal.to_json(), "token": issued.plaintext}, as_json)


@app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="the principal's name (unique)")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            help="admin, reviewer, release_lead, safety_lead, auditor or applicant (repeat)",
        ),
    ],
    service: Annotated[bool, typer.Option("--service", help="a service account")] = False,
    email: Annotated[str | None, typer.Option("--email")] = None,
    url: Url = None,
    token: Token = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a principal and print its token once (role admin)."""
    gw = Gateway(url, token)
    gw.need_token()
    body = {
        "name": name,
        "roles": role,
        "kind": "service" if service else "person",
        "email": email,
    }
    _print_token(gw.call("POST", "/admin/principals", json=body), as_json)


@app.command("token")
def token_command(ref: Ref, url: Url = None, token: Token = None, as_json: JsonOpt = False) -> None:
    """Issue another token to a principal and print it once (role admin)."""
    gw = Gateway(url, token)
    gw.need_token()
    _print_token(gw.call("POST", f"/admin/principals/{ref}/tokens"), as_json)


@app.command("list")
def list_command(url: Url = None, token: Token = None, as_json: JsonOpt = False) -> None:
    """Principals and their roles (roles admin, auditor)."""
    gw = Gateway(url, token)
    gw.need_token()
    data = gw.call("GET", "/admin/principals")["data"]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(header_style="bold")
    for column in ("id", "name", "kind", "roles", "status"):
        table.add_column(column, overflow="fold")
    for p in data:
        status = f"suspended: {safe(p['suspended_reason'])}" if p["suspended_at"] else "active"
        table.add_row(p["id"], safe(p["name"]), p["kind"], ", ".join(p["roles"]), status)
    console().print(table)


@app.command("suspend")
def suspend_command(
    ref: Ref,
    reason: Annotated[str, typer.Option("--reason", help="why (kept with the principal)")],
    url: Url = None,
    token: Token = None,
) -> None:
    """Suspend a principal: their tokens and every key issued to them stop working (roles
    admin, reviewer, safety_lead)."""
    gw = Gateway(url, token)
    gw.need_token()
    data = gw.call("POST", f"/admin/principals/{ref}/suspend", json={"reason": reason})
    console().print(f"suspended {safe(data['name'])}: {safe(reason)}")


@app.command("unsuspend")
def unsuspend_command(ref: Ref, url: Url = None, token: Token = None) -> None:
    """Lift a principal's suspension (role admin)."""
    gw = Gateway(url, token)
    gw.need_token()
    data = gw.call("POST", f"/admin/principals/{ref}/unsuspend")
    console().print(f"unsuspended {safe(data['name'])}")


@app.command("tokens")
def tokens_command(
    ref: Ref, url: Url = None, token: Token = None, as_json: JsonOpt = False
) -> None:
    """A principal's tokens: id, prefix, dates (role admin)."""
    gw = Gateway(url, token)
    gw.need_token()
    data = gw.call("GET", f"/admin/principals/{ref}/tokens")["data"]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for t in data:
        state = f"revoked {t['revoked_at'][:16]}" if t["revoked_at"] else "active"
        console().print(f"{t['id']}  {t['prefix']}...  created {t['created_at'][:16]}  {state}")


@app.command("revoke-token")
def revoke_token_command(
    ref: Ref,
    token_id: Annotated[str, typer.Argument(help="the token's id (tok_..., from `tokens`)")],
    url: Url = None,
    token: Token = None,
) -> None:
    """Revoke one of a principal's tokens (role admin)."""
    gw = Gateway(url, token)
    gw.need_token()
    gw.call("POST", f"/admin/principals/{ref}/tokens/{token_id}/revoke")
    console().print(f"revoked {safe(token_id)}")


@app.command("roles")
def roles_command(
    ref: Ref,
    role: Annotated[list[str], typer.Option("--role", help="the roles from now on (repeat)")],
    url: Url = None,
    token: Token = None,
) -> None:
    """Replace a principal's roles (role admin; the last active admin keeps theirs)."""
    gw = Gateway(url, token)
    gw.need_token()
    data = gw.call("POST", f"/admin/principals/{ref}/roles", json={"roles": role})
    console().print(f"{safe(data['name'])}: {', '.join(data['roles'])}")
