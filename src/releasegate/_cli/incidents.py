"""`releasegate incidents list|show|resolve`: keys suspended by misuse monitoring."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from releasegate._cli._common import console, err_console, safe
from releasegate._cli._store import READ, cli_store

app = typer.Typer(
    help="List, show and resolve misuse-monitoring incidents (keys suspended automatically).",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


class StatusFilter(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


@app.command("list")
def list_command(
    status: Annotated[
        StatusFilter, typer.Option("--status", help="which incidents to list")
    ] = StatusFilter.ALL,
    key: Annotated[str | None, typer.Option("--key", help="only this key id's incidents")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first."""
    from releasegate.monitoring import IncidentStore

    with cli_store(*READ) as store:
        found = IncidentStore(store.sessions).list(
            None if status is StatusFilter.ALL else status.value,  # type: ignore[arg-type]
            key,
        )
    rows = [i.to_json() for i in found]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(header_style="bold")
    for column in (
        "id",
        "status",
        "kind",
        "severity",
        "key / decision",
        "tier",
        "flags",
        "categories",
        "opened",
        "resolved by",
    ):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = "yellow" if row["status"] == "open" else "green"
        table.add_row(
            str(row["id"]),
            f"[{style}]{row['status']}[/]",
            safe(row["kind"]),
            safe(row["severity"]),
            safe(row["key_id"] or f"decision {row['decision_id']}"),
            safe(row["tier"]),
            str(row["flag_count"]),
            safe(", ".join(row["categories"]) or "-"),
            str(row["created_at"])[:19].replace("T", " "),
            safe(row["resolved_by"] or ""),
        )
    console().print(table)
    console().print(f"{len(rows)} incident(s)")


@app.command("show")
def show_command(
    incident_id: Annotated[str, typer.Argument(help="incident id (incidents list)")],
    as_json: JsonOpt = False,
) -> None:
    """Show one incident: its key, window, categories and the audit records that caused it."""
    from releasegate.monitoring import IncidentStore

    with cli_store(*READ) as store:
        incident = IncidentStore(store.sessions).get(incident_id)
    data = incident.to_json()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _print_incident(data)


def _print_incident(data: dict[str, Any]) -> None:
    con = console()
    con.print(f"[bold]{data['id']}[/] ({data['status']}, {data['kind']}, {data['severity']})")
    if data["summary"]:
        con.print(f"summary     {safe(str(data['summary']))}")
    if data["key_id"] is not None:
        con.print(f"key         {data['key_id']} (tier {data['tier']})")
    else:
        con.print(f"decision    {data['decision_id']}")
    con.print(f"window      {data['window_start']} .. {data['window_end']}")
    con.print(f"flagged     {data['flag_count']} requests: {', '.join(data['categories']) or '-'}")
    seqs = ", ".join(str(s) for s in data["audit_seqs"])
    con.print(f"audit seqs  {seqs} (see `releasegate audit export`)")
    con.print(f"opened      {data['created_at']}")
    if data["status"] == "resolved":
        con.print(f"resolved    {data['resolved_at']} by {safe(str(data['resolved_by']))}")
        if data["resolution_note"]:
            con.print(f"note        {safe(str(data['resolution_note']))}")


@app.command("resolve")
def resolve_command(
    incident_id: Annotated[str, typer.Argument(help="incident id (incidents list)")],
    by: Annotated[str, typer.Option("--by", help="who resolves it (kept with the incident)")],
    note: Annotated[str | None, typer.Option("--note", help="what was found or done")] = None,
    unsuspend: Annotated[
        bool,
        typer.Option(
            "--unsuspend", help="also lift the key's suspension (default: it stays suspended)"
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Resolve an incident (audited); with --unsuspend the key works again."""
    from releasegate.monitoring import IncidentStore

    with cli_store("admin", "safety_lead") as store:
        incident = IncidentStore(store.sessions).resolve(incident_id, by, note, unsuspend=unsuspend)
        store.audit_admin(
            "incidents.resolve",
            incident_id=incident.id,
            key_id=incident.key_id,
            resolved_by=incident.resolved_by,
            note=note,
            unsuspended=unsuspend,
        )
        redis_url = store.settings.redis_url
    if redis_url and incident.key_id is not None:
        _reset_shared_counter(redis_url, incident.key_id)
    if as_json:
        typer.echo(json.dumps(incident.to_json(), indent=2))
        return
    if incident.key_id is None:
        console().print(
            f"resolved {incident.id}; decision {incident.decision_id} still needs reassessment "
            "(a new decision, signed)"
        )
        return
    state = "unsuspended" if unsuspend else "still suspended (keys unsuspend to lift it)"
    console().print(f"resolved {incident.id}; key {incident.key_id} {state}")


def _reset_shared_counter(redis_url: str, key_id: str) -> None:
    """Clear the key's flag window in Redis, so an unsuspended key starts afresh."""
    import asyncio

    from releasegate.monitoring import MonitorUnavailable, RedisFlagCounter

    async def reset() -> None:
        counter = RedisFlagCounter(redis_url)
        try:
            await counter.reset(key_id)
        finally:
            await counter.aclose()

    try:
        asyncio.run(reset())
    except MonitorUnavailable as exc:
        err_console().print(
            f"warning: could not clear the key's flag counter in Redis ({safe(str(exc))}); "
            "it expires after the tier's flag window"
        )
