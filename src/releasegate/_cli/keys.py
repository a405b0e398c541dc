"""`releasegate keys create|list|revoke|rotate|suspend|unsuspend`: the gateway's API keys."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from releasegate._cli._common import console, safe
from releasegate._cli._store import READ, cli_store, fail
from releasegate.access import DEFAULT_TIERS, KeyRecord, KeyStore

app = typer.Typer(
    help="Create, list, revoke, rotate and suspend API keys of the gateway.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def parse_expires(value: str, now: datetime | None = None) -> datetime:
    """`--expires`: a number of days from now, or an ISO 8601 date / date-time (UTC if naive).

    Raises:
        ValueError: neither form.
    """
    now = now or datetime.now(UTC)
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        days = float(text)
        if days <= 0:
            raise ValueError("--expires: the number of days must be above 0")
        return now + timedelta(days=days)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--expires {value!r}: give a number of days (30) or an ISO date (2027-01-31 or "
            "2027-01-31T12:00:00Z)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _key_dict(record: KeyRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "prefix": record.prefix,
        "tier": record.tier,
        "owner": record.owner,
        "status": record.status(),
        "created_at": record.created_at.isoformat(),
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "suspended_reason": record.suspended_reason,
        "limits": {
            "rpm": record.limits.rpm,
            "tpm": record.limits.tpm,
            "daily_tokens": record.limits.daily_tokens,
        },
    }


def _print_new_key(plaintext: str, record: KeyRecord, as_json: bool) -> None:
    data = _key_dict(record)
    if as_json:
        typer.echo(json.dumps({"key": plaintext, **data}, indent=2))
        return
    con = console()
    con.print(
        f"[bold]{safe(data['id'])}[/] tier [bold]{safe(data['tier'])}[/] owner "
        f"{safe(data['owner'])}"
    )
    con.print("API key (shown once, store it now):")
    con.print(plaintext, highlight=False, soft_wrap=True)


@app.command("create")
def create_command(
    tier: Annotated[str, typer.Option("--tier", "-t", help="access tier (public, developer, ...)")],
    owner: Annotated[str, typer.Option("--owner", help="who the key belongs to")],
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="days from now (30) or an ISO date/time; default: never"),
    ] = None,
    rpm: Annotated[
        int | None, typer.Option(help="requests per minute (at most the tier's)")
    ] = None,
    tpm: Annotated[int | None, typer.Option(help="tokens per minute (at most the tier's)")] = None,
    daily_tokens: Annotated[
        int | None, typer.Option("--daily-tokens", help="tokens per day (at most the tier's)")
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            "-p",
            help="take the tiers from this policy's access_tiers (a file or a bundled policy "
            "name), as `serve --policy` does; default: the default tiers",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once (only its SHA-256 is stored)."""
    tiers = dict(DEFAULT_TIERS)
    if policy is not None:
        from releasegate._cli.decide import resolve_policy_path
        from releasegate.policy import load_policy

        tiers = dict(load_policy(resolve_policy_path(policy)).access_tiers)
    spec = tiers.get(tier)
    if spec is None:
        fail(f"unknown tier {tier!r}; tiers: {', '.join(tiers)}")
        return
    with cli_store("admin") as store:
        expires_at = parse_expires(expires) if expires is not None else None
        limits = {"rpm": rpm, "tpm": tpm, "daily_tokens": daily_tokens}
        created = KeyStore(store.sessions).create(spec, owner, expires_at, limits)
        store.audit_admin(
            "keys.create",
            key_id=created.record.id,
            tier=tier,
            owner=created.record.owner,
            expires_at=expires_at.isoformat() if expires_at else None,
            limits={k: v for k, v in limits.items() if v is not None},
        )
    _print_new_key(created.plaintext, created.record, as_json)


@app.command("list")
def list_command(
    owner: Annotated[str | None, typer.Option(help="only this owner's keys")] = None,
    active: Annotated[bool, typer.Option("--active", help="hide revoked keys")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List keys (never the keys themselves: id, prefix, tier, owner, status, dates)."""
    with cli_store(*READ) as store:
        records = KeyStore(store.sessions).list(owner=owner, include_revoked=not active)
    rows = [_key_dict(r) for r in records]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(header_style="bold")
    for column in ("id", "prefix", "tier", "owner", "status", "created", "expires", "limits"):
        table.add_column(column, overflow="fold")
    style = {"active": "green", "revoked": "red", "suspended": "yellow", "expired": "dim"}
    for row in rows:
        limits = row["limits"]
        table.add_row(
            safe(row["id"]),
            safe(row["prefix"]),
            safe(row["tier"]),
            safe(row["owner"]),
            f"[{style[str(row['status'])]}]{row['status']}[/]",
            str(row["created_at"])[:16].replace("T", " "),
            str(row["expires_at"] or "never")[:16].replace("T", " "),
            ", ".join(f"{k}={v}" for k, v in limits.items() if v is not None) or "tier",
        )
    console().print(table)
    console().print(f"{len(rows)} key(s)")


@app.command("revoke")
def revoke_command(key_id: Annotated[str, typer.Argument(help="key id (keys list)")]) -> None:
    """Revoke a key for good."""
    with cli_store("admin") as store:
        record = KeyStore(store.sessions).revoke(key_id)
        store.audit_admin("keys.revoke", key_id=record.id, owner=record.owner)
    console().print(
        f"revoked {safe(record.id)} ({safe(record.prefix)}..., owner {safe(record.owner)})"
    )


@app.command("rotate")
def rotate_command(
    key_id: Annotated[str, typer.Argument(help="key id (keys list)")], as_json: JsonOpt = False
) -> None:
    """Revoke a key and print its replacement (same tier, owner, expiry and limits)."""
    with cli_store("admin") as store:
        created = KeyStore(store.sessions).rotate(key_id)
        store.audit_admin("keys.rotate", key_id=key_id, new_key_id=created.record.id)
    if not as_json:
        console().print(f"revoked {key_id}; its replacement:")
    _print_new_key(created.plaintext, created.record, as_json)


@app.command("suspend")
def suspend_command(
    key_id: Annotated[str, typer.Argument(help="key id")],
    reason: Annotated[str, typer.Option(help="why (kept with the key)")] = "suspended by admin",
) -> None:
    """Block a key until it is unsuspended."""
    with cli_store("admin", "reviewer", "safety_lead") as store:
        record = KeyStore(store.sessions).suspend(key_id, reason)
        store.audit_admin("keys.suspend", key_id=record.id, reason=reason)
    console().print(f"suspended {safe(record.id)}: {safe(reason)}")


@app.command("unsuspend")
def unsuspend_command(key_id: Annotated[str, typer.Argument(help="key id")]) -> None:
    """Lift a key's suspension."""
    with cli_store("admin") as store:
        record = KeyStore(store.sessions).unsuspend(key_id)
        store.audit_admin("keys.unsuspend", key_id=record.id)
    console().print(f"unsuspended {safe(record.id)} (status: {record.status()})")
