"""`releasegate stage ...`: a decision's staged release — check a plan, start it, see where it
stands and what the next gate needs, promote (signed), roll back, record evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from releasegate._cli._common import console, err_console, safe
from releasegate._cli._store import READ, CliStore, cli_errors, cli_store, fail

if TYPE_CHECKING:
    from releasegate.access import TierSpec
    from releasegate.stages import SignedStageStatement, StagedRelease, StageStatus, Transition

app = typer.Typer(
    help="Staged release: check a plan, start it, status, promote (signed), roll back.",
    no_args_is_help=True,
)
plan_app = typer.Typer(help="Stage plans (YAML).", no_args_is_help=True)
app.add_typer(plan_app, name="plan")

DecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--decision",
        help="decision id or unique prefix (default: the decision whose stage moved last)",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _t(text: object) -> str:
    """User-controlled text for the terminal (the house escaping helper)."""
    return safe(text)


def _tiers_of(store: CliStore, decision_id: str) -> tuple[str, dict[str, TierSpec]]:
    from releasegate.access import DEFAULT_TIERS
    from releasegate.approvals import DecisionRegistry
    from releasegate.stages import started_tiers

    record = DecisionRegistry(store.sessions, trusted_keys=store.trusted_keys).get(decision_id)
    with store.sessions() as session:
        started = started_tiers(session, record.id)
    if started:
        return record.id, started
    policy = record.policy()
    return record.id, dict(policy.access_tiers) if policy else dict(DEFAULT_TIERS)


def _default_decision(store: CliStore, *, starting: bool = False) -> str:
    from sqlalchemy import select

    from releasegate.store.tables.decisions import DecisionRow
    from releasegate.store.tables.stages import StageTransitionRow

    with store.sessions() as session:
        moved = session.scalars(
            select(StageTransitionRow.decision_id).order_by(StageTransitionRow.id.desc()).limit(1)
        ).first()
        if moved is not None and not starting:
            return moved
        newest = session.scalars(
            select(DecisionRow.id)
            .where(DecisionRow.status == "approved")
            .order_by(DecisionRow.created_at.desc())
            .limit(1)
        ).first()
    if newest is None:
        fail("no staged release and no approved decision in the store; pass --decision")
    assert newest is not None
    return newest


def _release(store: CliStore, decision: str | None, *, starting: bool = False) -> StagedRelease:
    from releasegate.stages import StagedRelease

    decision_id, tiers = _tiers_of(store, decision or _default_decision(store, starting=starting))
    return StagedRelease(
        store.sessions, store.audit, decision_id, tiers, trusted_keys=store.trusted_keys
    )


@plan_app.command("check")
def plan_check_command(
    file: Annotated[Path, typer.Argument(help="the stage plan (YAML or JSON)")],
    decision: Annotated[
        str | None,
        typer.Option(
            "--decision",
            help="also check that no stage opens more than this stored decision allows",
        ),
    ] = None,
) -> None:
    """Validate a stage plan; errors name the file, line, field and stage (exit 2)."""
    from releasegate.stages import load_plan

    if decision is None:
        with cli_errors():
            plan = load_plan(file)
    else:
        with cli_store(*READ) as store:
            decision_id, tiers = _tiers_of(store, decision)
            from releasegate.approvals import DecisionRegistry

            record = DecisionRegistry(store.sessions).get(decision_id)
            plan = load_plan(file, decision=record.decision(), tiers=tiers)
    con = console()
    con.print(f"[green]ok[/]: plan {_t(plan.name)} {_t(plan.version)}, {len(plan.stages)} stages")
    for i, stage in enumerate(plan.stages, 1):
        levels = ", ".join(f"{c.value}={lv.value}" for c, lv in stage.levels.items())
        con.print(
            f"  {i}. {_t(stage.name)}: tiers {_t(', '.join(stage.tiers) or '-')}"
            + (f"; levels {levels}" if levels else "")
        )
    for trig in plan.rollback_triggers:
        con.print(f"  rollback trigger {_t(trig.id)} ({trig.kind}) -> {_t(trig.to)}")
    if decision is not None:
        con.print(f"no stage opens more than decision {_t(decision)} allows")


@app.command("start")
def start_command(
    plan_file: Annotated[Path, typer.Option("--plan", help="the stage plan (YAML or JSON)")],
    decision: DecisionOpt = None,
    at: Annotated[
        str | None, typer.Option("--at", help="enter this stage (default: the first)")
    ] = None,
) -> None:
    """Adopt a stage plan for a decision and enter its first stage (audited)."""
    from releasegate.stages import load_plan

    with cli_store("admin", "release_lead") as store:
        release = _release(store, decision, starting=True)
        plan = load_plan(plan_file)
        moved = release.start(plan, actor=store.actor, at=at)
        store.announce()
        _after_move(store, release, moved)


@app.command("status")
def status_command(decision: DecisionOpt = None, as_json: JsonOpt = False) -> None:
    """The current stage, the time in it, and each item of the next stage's gate: met or not,
    with the evidence read."""
    with cli_store(*READ) as store:
        release = _release(store, decision)
        status = release.status()
        moves = release.timeline()
    if as_json:
        data = status.to_json()
        data["timeline"] = [t.to_json() for t in moves]
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    print_status(status)


def print_status(status: StageStatus) -> None:
    """The status as `stage status` prints it."""
    con = console()
    cur = status.current
    if cur is None:
        con.print(
            f"decision {status.decision_id}: no staged release (releasegate stage start --plan)"
        )
        return
    spent = status.time_in_stage
    names = [f"[bold]{_t(n)}[/]" if n == cur.entered.to_stage else _t(n) for n in cur.plan.names()]
    con.print(f"plan {_t(cur.plan.name)} {_t(cur.plan.version)}: " + " → ".join(names))
    con.print(
        f"stage [bold]{_t(cur.entered.to_stage)}[/] (decision {status.decision_id}), "
        f"{cur.entered.kind} at {cur.entered.at.isoformat(timespec='seconds')}, "
        f"{_t(_human(spent.total_seconds() if spent else 0))} ago: {_t(cur.entered.reason)}"
    )
    if status.openness is not None:
        con.print(f"tiers open now: {_t(', '.join(status.openness.open_tiers) or 'none')}")
    if status.next_stage is None:
        con.print("this is the last stage")
        return
    table = Table(header_style="bold", title=f"gate to enter {status.next_stage}")
    for column in ("item", "requirement", "met", "evidence"):
        table.add_column(column, overflow="fold")
    for item in status.items:
        table.add_row(
            item.item,
            _t(item.requirement),
            "[green]met[/]" if item.met else "[red]not met[/]",
            _t(item.evidence),
        )
    con.print(table)
    verdict = "[green]ready to promote[/]" if status.ready else "[yellow]not ready[/]"
    con.print(f"{verdict}: releasegate stage promote --to {_t(status.next_stage)}")


def _human(seconds: float) -> str:
    from datetime import timedelta

    from releasegate.stages._release import _duration

    return _duration(timedelta(seconds=seconds))


@app.command("promote")
def promote_command(
    to: Annotated[str, typer.Option("--to", help="the next stage")],
    decision: DecisionOpt = None,
    by: Annotated[
        str | None, typer.Option("--by", help="sign the promotion: your registered name")
    ] = None,
    role: Annotated[str | None, typer.Option("--role", help="the role you sign in")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="your private key file")] = None,
    reason: Annotated[str, typer.Option("--reason", help="why, for the record")] = "",
    reassess: Annotated[
        bool,
        typer.Option(
            "--reassess",
            help="first run the gate's suites through the gateway (--through) and record the "
            "report as the gate's evidence",
        ),
    ] = False,
    through: Annotated[
        str | None,
        typer.Option(
            "--through",
            help="the deployed gateway's URL for --reassess (key: RELEASEGATE_THROUGH_API_KEY)",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="samples per task for --reassess")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Enter the next stage if every gate item is met; otherwise exit 1 listing the unmet
    items. With --by/--role/--key, your signed sign-off is recorded first (it stays recorded
    when the promotion is refused)."""
    from releasegate.stages import PromotionRefused

    signing = (by, role, key)
    if any(signing) and not all(signing):
        fail("to sign, give --by, --role and --key together")
    with cli_store("admin", "release_lead") as store:
        release = _release(store, decision)
        if reassess:
            _reassess(store, release, to, through, limit)
        signoffs: list[SignedStageStatement] = []
        if by and role and key:
            signoffs.append(_sign(release, to, by, role, key))
        try:
            moved = release.promote(to, actor=store.actor, signoffs=signoffs, reason=reason)
        except PromotionRefused as exc:
            store.announce()  # sign-offs were recorded
            if as_json:
                typer.echo(json.dumps({"promoted": False, **exc.status.to_json()}, indent=2))
            else:
                if signoffs:
                    console().print(f"recorded the sign-off of {_t(by)} ({_t(role)})")
                err_console().print(
                    f"[bold red]refused:[/] promotion to {_t(to)}; unmet gate items:",
                    highlight=False,
                )
                for item in exc.status.unmet:
                    err_console().print(
                        f"  - {item.item}: {_t(item.requirement)} — {_t(item.evidence)}",
                        highlight=False,
                    )
            raise typer.Exit(1) from None
        store.announce()
        if as_json:
            typer.echo(json.dumps({"promoted": True, "transition": moved.to_json()}, indent=2))
            return
        _after_move(store, release, moved)


def _sign(release: StagedRelease, to: str, by: str, role: str, key: Path) -> SignedStageStatement:
    from releasegate._util.ed25519 import load_private_key
    from releasegate.stages import StageError, sign_stage

    cur = release.current()
    if cur is None:
        raise StageError("the staged release has not started")
    return sign_stage(
        load_private_key(key),
        decision_id=cur.decision_id,
        plan_sha256=cur.plan_sha256,
        from_stage=cur.entered.to_stage,
        entry_seq=cur.entered.seq,
        to_stage=to,
        role=role.strip(),
        signer=by.strip(),
    )


def _reassess(
    store: CliStore, release: StagedRelease, to: str, through: str | None, limit: int | None
) -> None:
    from releasegate._cli.assess import run_with_progress
    from releasegate.approvals import DecisionRegistry
    from releasegate.assess import AssessOptions
    from releasegate.stages import StageError

    if not through:
        fail("--reassess needs --through URL (the deployed gateway to measure)")
    cur = release.current()
    if cur is None:
        raise StageError("the staged release has not started")
    target = cur.plan.stage(to) if to in cur.plan.names() else None
    req = target.gate.evidence if target is not None else None
    if req is None:
        raise StageError(f"stage {to!r}'s gate asks for no evidence; nothing to reassess")
    record = DecisionRegistry(store.sessions).get(release.decision_id)
    options = AssessOptions(
        model=record.decision().model.name,
        through=through,
        suites=tuple(req.suites),
        limit=limit or req.limit,
    )
    console().rule(f"reassess through {_t(through)} ({', '.join(req.suites)})")
    report = run_with_progress(options, store.settings)
    evidence = release.record_evidence(report, actor=store.actor)
    console().print(
        f"recorded the report {evidence.report_sha256[:12]} as gate evidence "
        f"(assessed {evidence.assessed_at.isoformat(timespec='seconds')})"
    )


@app.command("rollback")
def rollback_command(
    to: Annotated[str, typer.Option("--to", help="the earlier stage to step back to")],
    reason: Annotated[str, typer.Option("--reason", help="why (recorded and shown to users)")],
    decision: DecisionOpt = None,
) -> None:
    """Step back to an earlier stage now: tiers it does not open close on every gateway
    within a second (403 stage_closed); keys keep their quotas and history."""
    with cli_store("admin", "release_lead", "safety_lead") as store:
        release = _release(store, decision)
        moved = release.rollback(to, reason=reason, actor=store.actor)
        store.announce()
        assert moved is not None
        _after_move(store, release, moved)


@app.command("evidence")
def evidence_command(
    report: Annotated[Path, typer.Argument(help="a report made with `assess --through URL`")],
    decision: DecisionOpt = None,
) -> None:
    """Record a reassessment of the deployed system as the gates' evidence."""
    from releasegate.evidence import load_report

    with cli_store("admin", "release_lead", "safety_lead") as store:
        release = _release(store, decision)
        evidence = release.record_evidence(load_report(report), actor=store.actor)
    console().print(
        f"recorded report {evidence.report_sha256[:12]} (assessed "
        f"{evidence.assessed_at.isoformat(timespec='seconds')} through {_t(evidence.through)})"
    )


@app.command("timeline")
def timeline_command(decision: DecisionOpt = None, as_json: JsonOpt = False) -> None:
    """Every stage transition, oldest first (each is an audit record)."""
    with cli_store(*READ) as store:
        release = _release(store, decision)
        moves = release.timeline()
    if as_json:
        data = {"decision": release.decision_id, "timeline": [t.to_json() for t in moves]}
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    print_timeline(moves)


def print_timeline(moves: list[Transition]) -> None:
    table = Table(header_style="bold", title="stage timeline")
    for column in ("#", "at", "move", "by", "reason", "audit seq"):
        table.add_column(column, overflow="fold")
    for t in moves:
        move = f"{t.kind}: {t.from_stage or '—'} → {t.to_stage}"
        by = t.actor + (f" (trigger {t.trigger_id})" if t.trigger_id else "")
        table.add_row(
            str(t.seq),
            t.at.isoformat(timespec="seconds"),
            _t(move),
            _t(by),
            _t(t.reason),
            str(t.audit_seq),
        )
    console().print(table)


def _after_move(store: CliStore, release: StagedRelease, moved: Transition) -> None:
    from releasegate._cli.decision import rerender

    console().print(
        f"[green]{moved.kind}[/]: {_t(moved.from_stage or '—')} → [bold]{_t(moved.to_stage)}[/] "
        f"(audit record {moved.audit_seq}); gateways follow within a second"
    )
    rerender(store, release.decision_id)
    print_status(release.status())
