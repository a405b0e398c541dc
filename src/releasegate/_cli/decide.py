"""`releasegate decide REPORT --policy POLICY --out DIR`: a decision and its documents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from releasegate._cli._atomic import check_out_dir, write_dir_atomically
from releasegate._cli._common import console
from releasegate._util.load import parse_document
from releasegate.errors import InputError, Problem
from releasegate.evidence import RiskReport, load_report
from releasegate.policy import (
    BUNDLED_POLICIES,
    Decision,
    ReleasePolicy,
    bundled_policy_path,
    check_report,
    decide,
    load_policy,
)

_LEVEL_STYLE = {
    "closed": "red",
    "hosted": "red",
    "api": "yellow",
    "research_api": "yellow",
    "gated_weights": "cyan",
    "open_weights": "green",
    "fully_open": "green",
}


def resolve_policy_path(policy: str | None) -> Path:
    """A policy file, or the name of a bundled policy (`default`, `conservative`, ...)."""
    if policy is None:
        return bundled_policy_path("default")
    path = Path(policy)
    if not path.exists() and policy in BUNDLED_POLICIES:
        return bundled_policy_path(policy)
    return path


def _check_ranges(report: RiskReport, report_path: Path, policy: ReleasePolicy) -> None:
    problems = check_report(report, policy)
    if not problems:
        return
    # The report type-checked, so it parses; parse again only to learn each field's line.
    _, lines = parse_document(report_path.read_text(encoding="utf-8"), str(report_path))
    for problem in problems:
        loc: tuple[str | int, ...] = ()
        for part in problem.path.replace("[", ".[").split("."):
            if part.startswith("["):
                loc = (*loc, int(part[1:-1]))
            elif part:
                loc = (*loc, part)
        while loc and loc not in lines:
            loc = loc[:-1]
        problem.line = lines.get(loc)
    raise InputError(str(report_path), problems)


def run_decide(
    report_path: Path, policy_path: Path, out: Path, force: bool
) -> tuple[Decision, RiskReport, ReleasePolicy]:
    """Load, decide, render and write every decision file into `out` atomically.

    Raises:
        InputError: bad report, bad policy, or an unusable `out`; nothing is written.
    """
    # Imported here: `releasegate serve` and the other commands do not pay for them.
    from releasegate._cli._store import cli_store
    from releasegate.approvals import DecisionRegistry, fired_triggers, release_view
    from releasegate.reports import render_all
    from releasegate.store._types import utcnow

    check_out_dir(out, force)  # fail before any work if DIR is unusable
    report = load_report(report_path)
    policy = load_policy(policy_path)
    _check_ranges(report, report_path, policy)
    decision = decide(report, policy)
    # Stored (and audited) before the files are written: recording is idempotent, so a failed
    # write that is run again cannot leave a decision on disk that the store never saw. The
    # store keeps the report, the policy and DIR, so each sign-off can render DIR again.
    with cli_store("admin", "release_lead", "safety_lead") as store:
        record = DecisionRegistry(store.sessions, store.audit).record(
            decision, actor=store.actor, output_dir=str(out.resolve()), report=report, policy=policy
        )
        with store.sessions() as session:
            fired = fired_triggers(session, record.id)
    view = release_view(
        decision, policy, verification=record.verification, fired=fired, now=utcnow()
    )
    write_dir_atomically(out, render_all(decision, report, policy, view), force=force)
    return decision, report, policy


def print_summary(decision: Decision, out: Path | None, con: Console | None = None) -> None:
    """A Rich summary: status, the level of each component, the rules that decided it."""
    con = con or console()
    status_style = {"pending": "yellow", "approved": "green", "halted": "bold red"}[decision.status]
    con.print(
        f"[bold]{decision.model.name}[/] under policy [bold]{decision.policy_name}[/] "
        f"{decision.policy_version}: [{status_style}]{decision.status}[/]"
    )
    if decision.halted_reason:
        con.print(f"[bold red]halted:[/] {decision.halted_reason}")
    table = Table(show_header=True, header_style="bold")
    table.add_column("component")
    table.add_column("most open level")
    table.add_column("safeguards required", overflow="fold")
    for component, level in decision.levels.items():
        table.add_row(
            component.value,
            f"[{_LEVEL_STYLE[level.value]}]{level.value}[/]",
            str(len(decision.required_safeguards.get(component, []))),
        )
    con.print(table)
    matched = [t.rule for t in decision.trace if t.matched]
    con.print(f"rules matched: {', '.join(matched) if matched else 'none'}")
    if decision.missing_evidence:
        con.print(f"[yellow]missing evidence:[/] {len(decision.missing_evidence)} readings")
    con.print(f"sign-off: {decision.signoff.required} of {', '.join(decision.signoff.roles)}")
    if decision.valid_until is not None:
        con.print(f"valid until: {decision.valid_until.isoformat()}")
    con.print(f"content sha256: {decision.content_sha256}")
    con.print(
        f"decision id: [bold]{decision.content_sha256[:16]}[/] "
        "(sign it: releasegate decision approve)"
    )
    if out is not None:
        con.print(
            f"wrote {out}/: decision.json decision.md decision.html model-card.md "
            "eu-ai-act-checklist.md"
        )


def decide_command(
    report: Annotated[
        Path, typer.Argument(metavar="REPORT", help="risk report JSON (releasegate assess)")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="directory to write the decision into"),
    ],
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            "-p",
            metavar="POLICY",
            help="policy YAML, or a bundled policy name: default, conservative, open-leaning "
            "(default: the bundled default policy)",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="replace DIR if it exists and is not empty")
    ] = False,
) -> None:
    """Decide the most open level per component under a policy; write the decision into DIR.

    DIR gets decision.json, decision.md, decision.html, model-card.md and
    eu-ai-act-checklist.md, all or nothing.
    """
    if not report.exists():
        raise InputError(str(report), [Problem("file not found")])
    decision, _, _ = run_decide(report, resolve_policy_path(policy), out, force)
    print_summary(decision, out)
