"""`releasegate decision ...`: stored decisions, their signed sign-off, status and export."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from releasegate._cli._common import console, err_console, safe
from releasegate._cli._store import READ, CliStore, cli_store, fail

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy.orm import Session

    from releasegate.approvals import (
        Action,
        DecisionRecord,
        FiredTrigger,
        Openness,
        SignedStatement,
        Signer,
        Verification,
    )
    from releasegate.policy import Decision

app = typer.Typer(
    help="List, show, sign off, verify, export and follow stored decisions.",
    no_args_is_help=True,
)

_STATUS = {
    "pending": "yellow",
    "approved": "green",
    "rejected": "bold red",
    "halted": "bold red",
    "unverified": "bold red",
}

DecisionId = Annotated[str, typer.Argument(help="decision id or a unique prefix")]
Role = Annotated[str, typer.Option("--role", help="the role you sign in")]
By = Annotated[str, typer.Option("--by", help="your name, as registered (releasegate signers)")]
Key = Annotated[Path, typer.Option("--key", help="your private key file (signers create)")]


def _status(status: str) -> str:
    return f"[{_STATUS.get(status, 'white')}]{status}[/]"


@app.command("list")
def list_command(
    status: Annotated[
        str | None,
        typer.Option(help="only decisions with this status (pending, approved, rejected, halted)"),
    ] = None,
) -> None:
    """Every stored decision, newest first."""
    from releasegate.approvals import DecisionRegistry

    if status is not None and status not in _STATUS:
        fail(f"--status {status!r}: one of {', '.join(_STATUS)}")
    with cli_store(*READ) as store:
        records = DecisionRegistry(store.sessions, trusted_keys=store.trusted_keys).list()
    records = [r for r in records if status is None or r.status == status]
    table = Table(header_style="bold")
    for column in ("id", "created", "model", "policy", "status", "weights", "approvals"):
        table.add_column(column, overflow="fold")
    for r in records:
        v = r.verification
        table.add_row(
            r.id,
            r.created_at.isoformat()[:19],
            safe(r.model_name),
            safe(f"{r.policy_name} {r.policy_version}"),
            _status("unverified" if v and v.problems else r.status),
            r.levels.get("weights", "?"),
            f"{v.approvals if v else 0}/{r.required}",
        )
    console().print(table)
    console().print(f"{len(records)} decision(s)")


def _print_signatures(v: Verification) -> None:
    table = Table(header_style="bold", title=f"signatures ({v.approvals} of {v.required} counted)")
    for column in ("action", "signer", "role", "signed at", "key", "counts"):
        table.add_column(column, overflow="fold")
    for c in v.signatures:
        s = c.signed.statement
        counts = (
            f"[red]invalid: {safe(c.problem)}[/]"
            if c.problem
            else ("yes" if c.counted else safe(c.note or "—"))
        )
        action = safe(s.action) + (f": {safe(s.reason)}" if s.reason else "")
        table.add_row(
            action, safe(s.signer), safe(s.role), safe(s.signed_at), safe(s.key_id), counts
        )
    console().print(table)


def _print_record(record: DecisionRecord) -> None:
    con = console()
    v = record.verification
    assert v is not None
    con.print(
        f"decision [bold]{record.id}[/]: {safe(record.model_name)} under "
        f"{safe(record.policy_name)} {safe(record.policy_version)}: "
        f"{_status('unverified' if v.problems else record.status)}"
    )
    con.print(f"content sha256: {record.content_sha256}")
    con.print(f"recorded: {record.created_at.isoformat()}")
    levels = Table(header_style="bold", title="levels")
    levels.add_column("component")
    levels.add_column("most open level")
    for component, level in record.levels.items():
        levels.add_row(component, level)
    con.print(levels)
    con.print(f"sign-off: {record.required} of {', '.join(record.roles)}")
    _print_signatures(v)
    for failure in v.failures():
        con.print(f"[yellow]{safe(failure)}[/]")
    if record.status == "approved" and record.approved_at is not None:
        con.print(f"[green]approved[/] at {record.approved_at.isoformat()}")


@app.command("show")
def show_command(
    decision_id: DecisionId,
    as_json: Annotated[bool, typer.Option("--json", help="print the full decision JSON")] = False,
) -> None:
    """A decision's levels and signatures (or, with --json, the whole stored decision)."""
    from releasegate.approvals import DecisionRegistry, record_json

    with cli_store(*READ) as store:
        record = DecisionRegistry(store.sessions, trusted_keys=store.trusted_keys).get(decision_id)
    if as_json:
        data = json.loads(record.decision_json)
        data["stored"] = record_json(record)
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    _print_record(record)


def _sign(
    action: Action, decision_id: str, role: str, by: str, key: Path, reason: str | None
) -> None:
    from releasegate._util.ed25519 import load_private_key
    from releasegate.approvals import DecisionRegistry

    with cli_store("admin", "reviewer", "release_lead", "safety_lead") as store:
        private = load_private_key(key)
        registry = DecisionRegistry(store.sessions, store.audit, trusted_keys=store.trusted_keys)
        record = registry.sign(
            decision_id, action, role=role.strip(), by=by, key=private, reason=reason
        )
        store.announce()
        _print_record(record)
        rerender(store, record.id)


def rerender(store: CliStore, decision_id: str, out: Path | None = None) -> Path | None:
    """Render the decision's documents again, with its standing now, into `out` or the
    directory `decide` wrote (a failure is reported, never fatal: the signature stands)."""
    from releasegate.approvals import (
        DecisionRegistry,
        all_signers,
        fired_triggers,
        write_documents,
    )
    from releasegate.store._types import utcnow

    with store.sessions() as session:
        registry = DecisionRegistry(store.sessions, trusted_keys=store.trusted_keys)
        record = registry.load(session, decision_id)
        signers = all_signers(session)
        fired = fired_triggers(session, record.id)
        staged = _staged(session, record.id)
    target = out or (Path(record.output_dir) if record.output_dir else None)
    if target is None:
        return None
    try:
        written = write_documents(
            target, _render_documents(record, signers, fired, now=utcnow(), staged=staged)
        )
    except (ValueError, OSError) as exc:
        if out is not None:
            raise
        err_console().print(f"[yellow]documents not re-rendered:[/] {safe(str(exc))}")
        return None
    console().print(f"rendered the documents again in {written}/ (status {record.status})")
    return written


def _staged(session: Session, decision_id: str) -> dict[str, Any]:
    """The staged release's current stage and timeline, for `release_view` (empty: none)."""
    from releasegate.policy import StageLine
    from releasegate.stages import current_stage, started_tiers, timeline

    cur = current_stage(session, decision_id)
    if cur is None:
        return {}
    lines = tuple(
        StageLine(
            seq=t.seq,
            kind=t.kind,
            from_stage=t.from_stage,
            to_stage=t.to_stage,
            at=t.at.isoformat(timespec="seconds"),
            actor=t.actor,
            reason=t.reason,
            audit_seq=t.audit_seq,
            trigger=t.trigger_id,
        )
        for t in timeline(session, decision_id)
    )
    return {
        "stage": cur.limit(started_tiers(session, decision_id) or {}),
        "stage_plan": f"{cur.plan.name} {cur.plan.version}",
        "stage_timeline": lines,
    }


def _render_documents(
    record: DecisionRecord,
    signers: Mapping[str, Signer],
    fired: tuple[FiredTrigger, ...],
    *,
    now: datetime,
    staged: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """Every document of a stored decision with its standing now, plus its export files.

    Args:
        record: the stored decision, its signatures checked.
        signers: every registered key by id (the signers of its signatures are exported).
        fired: its fired triggers (`fired_triggers`).
        now: when the documents are rendered.
        staged: its staged release (`_staged`): current stage and timeline.

    Raises:
        ValueError: the store holds no report or policy for it (recorded by hand, not by
            `decide`), so its documents cannot be rendered.
    """
    report = record.report()
    policy = record.policy()
    if report is None or policy is None:
        raise ValueError(
            f"decision {record.id} was recorded without its report and policy, so its "
            "documents cannot be rendered; decide it again with `releasegate decide`"
        )
    from releasegate.approvals import export_files, release_view
    from releasegate.reports import render_all

    decision = record.decision()
    view = release_view(
        decision,
        policy,
        verification=record.verification,
        fired=fired,
        now=now,
        **(staged or {}),
    )
    files = render_all(decision, report, policy, view)
    files.update(export_files(record, signers))
    return files


@app.command("approve")
def approve_command(decision_id: DecisionId, role: Role, by: By, key: Key) -> None:
    """Sign a decision's approval for one role; it is approved once the policy's N different
    people in N different roles have signed."""
    _sign("approve", decision_id, role, by, key, None)


@app.command("reject")
def reject_command(
    decision_id: DecisionId,
    role: Role,
    by: By,
    key: Key,
    reason: Annotated[str, typer.Option("--reason", help="why it is rejected")],
) -> None:
    """Sign a rejection of a pending decision: it can no longer be approved."""
    _sign("reject", decision_id, role, by, key, reason)


@app.command("halt")
def halt_command(
    decision_id: DecisionId,
    role: Role,
    by: By,
    key: Key,
    reason: Annotated[str, typer.Option("--reason", help="why it is halted")],
) -> None:
    """Sign a halt: the model's access tiers close on every gateway within a second;
    documentation and evaluation results stay published. One signer suffices."""
    _sign("halt", decision_id, role, by, key, reason)


@app.command("trigger")
def trigger_command(
    decision_id: DecisionId,
    reason: Annotated[str, typer.Option("--reason", help="what happened")],
    trigger_id: Annotated[
        str | None, typer.Option("--id", help="fire this trigger of the decision (its id)")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="fire every trigger of this kind (incidents, flaw_report, model_fingerprint, "
            "expiry)",
        ),
    ] = None,
) -> None:
    """Fire a reassessment trigger by hand: the decision needs reassessing, and every gateway
    steps its tiers down to the trigger's fallback within a second. Firing only ever narrows
    access, so it needs no signature; it is audited under your name."""
    from releasegate.approvals import fire_trigger

    if (trigger_id is None) == (kind is None):
        fail("give exactly one of --id and --kind")
    with cli_store("admin", "release_lead", "safety_lead") as store:
        fired = fire_trigger(
            store.sessions,
            store.audit,
            decision_id,
            trigger_id=trigger_id,
            kind=kind,
            reason=reason,
            actor=store.actor,
        )
        if not fired:
            fail(f"decision {decision_id} has no trigger of kind {kind!r}: nothing fired")
        store.announce()
        for trigger in fired:
            console().print(
                f"trigger [bold]{safe(trigger.trigger_id)}[/] fired at "
                f"{trigger.fired_at.isoformat(timespec='seconds')}: weights fall back to "
                f"{trigger.fallback.value}"
            )
        rerender(store, decision_id)


@app.command("verify")
def verify_command(
    target: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_ID",
            help="a decision export (directory), a decision.json, or a stored decision's id",
        ),
    ],
    signers_file: Annotated[
        Path | None,
        typer.Option(
            "--signers",
            help="trust the keys in this signers.json instead of the store's registered signers",
        ),
    ] = None,
) -> None:
    """Exit 0 only when the content hash matches, every signature is valid, and approvals meet
    the policy's N-of-M rule with no halt or rejection; otherwise exit 1 naming what fails."""
    from releasegate.approvals import verify_signoffs

    with cli_store(*READ) as store:
        decision, signatures, source = _load_target(store, target)
        trusted = _trusted(store, signers_file)
    v = verify_signoffs(decision, signatures, trusted)
    con = console()
    con.print(f"decision {v.decision_id} ({source}), checked against {len(trusted)} signer key(s)")
    _print_signatures(v)
    failures = v.failures()
    for failure in failures:
        err_console().print(f"[bold red]FAIL:[/] {safe(failure)}", highlight=False)
    if failures:
        raise typer.Exit(1)
    con.print(f"[green]verified:[/] approved by {v.approvals} of {v.required} required")


def _load_target(store: CliStore, target: str) -> tuple[Decision, list[SignedStatement], str]:
    from releasegate._util.load import load_model
    from releasegate.approvals import DecisionNotFoundError, DecisionRegistry
    from releasegate.policy import Decision

    path = Path(target)
    registry = DecisionRegistry(store.sessions, trusted_keys=store.trusted_keys)
    if not path.exists():
        record = registry.get(target)
        return record.decision(), list(record.signatures), "the store"
    decision_file = path / "decision.json" if path.is_dir() else path
    decision = load_model(Decision, decision_file)
    signatures_file = decision_file.parent / "signatures.json"
    if signatures_file.is_file():
        return decision, _read_signatures(signatures_file), str(signatures_file)
    try:
        return decision, list(registry.find(decision).signatures), "the store"
    except DecisionNotFoundError:
        return decision, [], "no signatures found"


def _read_signatures(path: Path) -> list[SignedStatement]:
    from releasegate.approvals import SignedStatement, Statement
    from releasegate.errors import InputError, Problem

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data["signatures"]
        return [
            SignedStatement(Statement.from_json(item["statement"]), str(item["signature"]))
            for item in items
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(str(path), [Problem(f"not a signatures file: {exc}")]) from exc


def _trusted(store: CliStore, signers_file: Path | None) -> dict[str, Signer]:
    from releasegate.approvals import Signer, all_signers
    from releasegate.errors import InputError, Problem

    if signers_file is None:
        with store.sessions() as session:
            return dict(all_signers(session, store.trusted_keys))
    try:
        data = json.loads(signers_file.read_text(encoding="utf-8"))
        signers = [Signer.from_json(s) for s in data["signers"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(str(signers_file), [Problem(f"not a signers file: {exc}")]) from exc
    return {s.key_id: s for s in signers}


@app.command("export")
def export_command(
    decision_id: DecisionId,
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="directory to write")],
    force: Annotated[
        bool, typer.Option("--force", help="replace DIR if it exists and is not empty")
    ] = False,
) -> None:
    """Write the decision, its signatures, its signers' public keys and verify_decision.py,
    so anyone can verify it with Python and `cryptography` alone (docs/approvals.md)."""
    from releasegate._cli._atomic import write_dir_atomically
    from releasegate.approvals import DecisionRegistry, all_signers, export_files

    with cli_store(*READ) as store:
        with store.sessions() as session:
            record = DecisionRegistry(store.sessions, trusted_keys=store.trusted_keys).load(
                session, decision_id
            )
            signers = all_signers(session)
        write_dir_atomically(out, export_files(record, signers), force=force)
    console().print(
        f"exported decision {record.id} ({record.status}) to {out}/; verify with: "
        f"python {out}/verify_decision.py {out}"
    )


@app.command("status")
def status_command(
    decision_id: DecisionId,
    as_json: Annotated[bool, typer.Option("--json", help="print the status as JSON")] = False,
) -> None:
    """Is the decision in force, what is open now, and does it need reassessment (a fired
    trigger, or its validity ran out)?"""
    from releasegate.access import DEFAULT_TIERS
    from releasegate.approvals import DecisionRegistry, load_release_state, open_now
    from releasegate.approvals import record_json as stored_json
    from releasegate.store._types import utcnow

    with cli_store(*READ) as store, store.sessions() as session:
        registry = DecisionRegistry(store.sessions, trusted_keys=store.trusted_keys)
        record = registry.load(session, decision_id)
        state = load_release_state(session, record.id, store.trusted_keys)
        staged = _staged(session, record.id)
    policy = record.policy()
    tiers = dict(policy.access_tiers) if policy else dict(DEFAULT_TIERS)
    if staged:  # the current stage is part of what is open now
        from dataclasses import replace

        state = replace(state, stage=staged["stage"])
    openness = open_now(state, tiers, utcnow())
    if as_json:
        decision = record.decision()
        data = {
            **stored_json(record),
            **openness.to_json(),
            "valid_until": decision.valid_until.isoformat() if decision.valid_until else None,
        }
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    _print_status(record, openness)


def _print_status(record: DecisionRecord, openness: Openness) -> None:
    con = console()
    decision = record.decision()
    con.print(f"decision [bold]{record.id}[/]: {_status(openness.status)}")
    if openness.closed_reason:
        con.print(f"  {safe(openness.closed_reason)}")
    if decision.valid_until is not None:
        con.print(f"valid until {decision.valid_until.isoformat()}")
    if openness.reassessment_required:
        con.print("[bold red]reassessment required[/]")
        for fired in openness.reassessment:
            recorded = "" if fired.recorded else " (not yet recorded by a gateway)"
            con.print(
                f"  trigger {fired.trigger_id} ({fired.kind}) fired at "
                f"{fired.fired_at.isoformat(timespec='seconds')}: {safe(fired.reason)}; "
                f"weights fall back to {fired.fallback.value}{recorded}"
            )
    con.print(f"weights in force: {openness.weights.value}")
    con.print(f"tiers open: {', '.join(openness.open_tiers) or 'none'}")
    for name, reason in openness.withheld.items():
        con.print(f"[yellow]withheld[/] {name}: {safe(reason)}")


@app.command("render")
def render_command(
    decision_id: DecisionId,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="where to render (default: the directory decide wrote)",
        ),
    ] = None,
) -> None:
    """Render the decision's documents again with its standing now (status, signers, times,
    reassessment), with its signatures and verify_decision.py beside them."""
    with cli_store(*READ) as store:
        if out is None and rerender(store, decision_id) is None:
            fail("the store does not know where this decision's documents are: pass --out DIR")
        elif out is not None:
            rerender(store, decision_id, out)


@app.command("record")
def record_command(
    decision_file: Annotated[Path, typer.Argument(help="a decision.json written by decide")],
) -> None:
    """Store a decision made elsewhere (decide records its own decisions already)."""
    from releasegate._util.load import load_model
    from releasegate.approvals import DecisionRegistry
    from releasegate.policy import Decision

    decision = load_model(Decision, decision_file)
    with cli_store("admin", "release_lead") as store:
        record = DecisionRegistry(store.sessions, store.audit).record(decision, actor=store.actor)
    _print_record(record)
