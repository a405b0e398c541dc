"""`releasegate assess MODEL --out report.json`: run the suites, write the risk report."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from releasegate._cli._common import console, err_console, safe
from releasegate.errors import InputError, Problem

if TYPE_CHECKING:
    from releasegate.assess import AssessOptions
    from releasegate.evidence import RiskReport
    from releasegate.policy import ReleasePolicy
    from releasegate.settings import Settings

DEFAULT_MAX_SAMPLES = 200


def _parse_data(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    problems = []
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key or not path:
            problems.append(Problem(f"expected NAME=PATH, got {value!r}", path="--data"))
        else:
            out[key.strip()] = path.strip()
    if problems:
        raise InputError("releasegate assess", problems)
    return out


def _write_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def print_summary(report: RiskReport) -> None:
    con = console()
    table = Table(title=f"Risk assessment of {report.model.name}", header_style="bold")
    for column in ("evidence", "metric", "condition", "value", "95% CI", "n", "uplift"):
        table.add_column(column)
    for item in report.evidence:
        ci = f"{item.ci95.low:.2f}–{item.ci95.high:.2f}" if item.ci95 else ""
        uplift = ""
        if item.baseline is not None:
            uplift = f"{item.baseline.uplift:+.2f}"
            if item.baseline.uplift_ci95 is not None:
                b = item.baseline.uplift_ci95
                uplift += f" [{b.low:+.2f}, {b.high:+.2f}]"
        table.add_row(
            item.id, item.metric, item.condition.value, f"{item.value:.3f}", ci, str(item.n), uplift
        )
    con.print(table)
    judged = next((e.judge_agreement for e in report.evidence if e.judge_agreement), None)
    if judged is not None:
        kappa = f"{judged.kappa:.2f}" if judged.kappa is not None else "undefined"
        con.print(
            f"refusal judge {safe(judged.judge)}: agreement {judged.agreement:.2f}, Cohen's "
            f"kappa {kappa} on {judged.n} labelled responses ({safe(judged.labelled_set)})"
        )
    by_attack = report.safeguards.jailbreak_asr_by_attack
    if by_attack:
        con.print(
            "jailbreak ASR by transform: "
            + ", ".join(f"{k} {v:.2f}" for k, v in sorted(by_attack.items()))
        )
    for attack in report.safeguards.tamper_attacks:
        seed = f" (seed {attack.seed})" if attack.seed is not None else ""
        con.print(
            f"tamper {attack.name}{seed}: {attack.examples} examples, {attack.steps} steps, "
            f"{attack.wall_time_s:.0f} s -> refusal rate {attack.refusal_rate_after:.2f}"
        )
    for strength in report.safeguards.tamper_sweep:
        con.print(
            f"tamper {strength.name} over seeds {', '.join(map(str, strength.seeds))}: mean "
            f"refusal rate {strength.refusal_rate_mean:.2f}, spread "
            f"{strength.refusal_rate_spread:.2f}"
        )
    for item in report.evidence:
        if item.noisy:
            con.print(f"[yellow]noisy evidence:[/] {safe(item.id)}: {safe(item.noisy)}")
    sampling = report.sampling
    if sampling is not None and sampling.rounds:
        con.print(
            f"until decidable under {safe(sampling.policy or '?')}: rounds of "
            + ", ".join(map(str, sampling.rounds))
            + f" samples per task (cap {sampling.max_samples})"
        )
        for indicator, needed in sampling.undecided.items():
            more = "no sample size decides it" if needed is None else f"needs about {needed}"
            con.print(f"[yellow]undecided:[/] {safe(indicator)} ({more})")
    for note in report.notes:
        if "malformed" in note:
            err_console().print(f"[yellow]warning:[/] {safe(note)}")
    for failed in report.coverage.failed:
        con.print(f"[yellow]missing evidence:[/] {safe(failed.evaluation)}: {safe(failed.reason)}")


def assess_command(
    model: Annotated[str, typer.Argument(help="model spec: bundled:NAME, hf:PATH, openai:URL#M")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the report (JSON)")],
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="baseline model spec (marginal risk)")
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            help="suites, comma-separated: capability, refusal, over_refusal, jailbreak, tamper "
            "(default: all)",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="samples per task")] = None,
    capability_limit: Annotated[
        int | None,
        typer.Option(
            "--capability-limit", min=1, help="samples per capability task (default: --limit)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="generation and bootstrap seed")] = 0,
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            help="NAME=PATH: a WMDP-format JSONL for a domain (cbrn=..., or "
            "inspect_evals/wmdp_bio), "
            "or harmful=... / benign_sensitive=... request sets; repeatable",
        ),
    ] = None,
    judge: Annotated[
        str,
        typer.Option(
            "--judge",
            help="refusal judge: default, classifier:PATH, phrases or llm:BACKEND_SPEC "
            "(releasegate judge check validates one)",
        ),
    ] = "default",
    judge_labels: Annotated[
        Path | None,
        typer.Option(
            "--judge-labels",
            help="labelled JSONL the judge's agreement is measured on (default: the bundled "
            "test split)",
        ),
    ] = None,
    strongreject: Annotated[
        str | None,
        typer.Option("--strongreject", help="Inspect model that grades answers StrongREJECT-style"),
    ] = None,
    through: Annotated[
        str | None,
        typer.Option(
            "--through",
            help="URL[#MODEL] of a deployed OpenAI-compatible gateway: the safeguard suites run "
            "through it (post_mitigation); key from RELEASEGATE_THROUGH_API_KEY",
        ),
    ] = None,
    guards: Annotated[
        str,
        typer.Option(
            "--guards", help="guards run around the model for post_mitigation ('' for none)"
        ),
    ] = "default",
    jailbreak_prompts: Annotated[
        int | None,
        typer.Option(
            "--jailbreak-prompts", min=1, help="requests per jailbreak transform (default: --limit)"
        ),
    ] = None,
    tamper_sweep: Annotated[
        str,
        typer.Option(
            "--tamper-sweep",
            help="LoRA attack sweep: 'default' (10/20/40 steps) or 'quick' (4/8 steps, demos)",
        ),
    ] = "default",
    tamper_seeds: Annotated[
        int,
        typer.Option(
            "--tamper-seeds",
            min=1,
            help="training seeds per tamper attack: each strength's mean and spread, and the "
            "monotonicity check, need at least 2",
        ),
    ] = 2,
    max_tokens: Annotated[
        int, typer.Option("--max-tokens", min=1, help="answer length in the safeguard suites")
    ] = 48,
    max_connections: Annotated[
        int | None,
        typer.Option(
            "--max-connections",
            min=1,
            help="requests in flight at once to an openai: model, --through gateway or llm: "
            "judge (default: the setting upstream_max_connections)",
        ),
    ] = None,
    log_dir: Annotated[
        Path | None,
        typer.Option(
            "--log-dir", help="Inspect logs (reused by a re-run); default DATA_DIR/assess/logs"
        ),
    ] = None,
    until_decidable: Annotated[
        bool,
        typer.Option(
            "--until-decidable",
            help="grow --limit round by round until no indicator of --policy straddles a cutoff "
            "(or --max-samples); what stays undecided is recorded and read at its worse bound",
        ),
    ] = False,
    max_samples: Annotated[
        int | None,
        typer.Option(
            "--max-samples", min=1, help="with --until-decidable: the most samples per task (200)"
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy", "-p", help="policy for --then-decide and --until-decidable (default)"
        ),
    ] = None,
    then_decide: Annotated[
        bool, typer.Option("--then-decide", help="decide on the report right away")
    ] = False,
    decision_out: Annotated[
        Path | None,
        typer.Option("--decision-out", help="directory for --then-decide (default OUT-decision)"),
    ] = None,
) -> None:
    """Assess MODEL on capability proxies, refusal, over-refusal, jailbreaks and a fine-tuning
    tamper sweep (local weights), all run on Inspect, and write the risk report to OUT."""

    from releasegate.assess import SUITES, TAMPER_SWEEPS, AssessOptions
    from releasegate.settings import Settings

    if tamper_sweep not in TAMPER_SWEEPS:
        raise InputError(
            "--tamper-sweep",
            [Problem(f"unknown sweep {tamper_sweep!r}; choose from {', '.join(TAMPER_SWEEPS)}")],
        )

    suites = tuple(s.strip() for s in suite.split(",") if s.strip()) if suite else SUITES
    if out.exists() and out.is_dir():
        raise InputError(str(out), [Problem("is a directory; --out names the report file")])
    options = AssessOptions(
        model=model,
        baseline=baseline,
        suites=suites,
        limit=limit,
        capability_limit=capability_limit,
        seed=seed,
        data=_parse_data(data or []),
        judge=judge,
        judge_labels=judge_labels,
        strongreject=strongreject,
        through=through,
        guards=tuple(g for g in guards.split("+") if g),
        max_tokens=max_tokens,
        jailbreak_prompts=jailbreak_prompts,
        tamper=TAMPER_SWEEPS[tamper_sweep],
        tamper_seeds=tamper_seeds,
        log_dir=log_dir,
    )
    policy_path = None
    if then_decide or until_decidable:
        from releasegate._cli.decide import resolve_policy_path

        policy_path = resolve_policy_path(policy)
        if not policy_path.is_file():
            raise InputError(str(policy_path), [Problem("policy file not found")])
    until = None
    if max_samples is not None and not until_decidable:
        raise InputError("--max-samples", [Problem("needs --until-decidable")])
    if until_decidable:
        from releasegate.policy import load_policy

        assert policy_path is not None
        cap = max_samples or DEFAULT_MAX_SAMPLES
        if limit is not None and limit > cap:
            raise InputError(
                "--limit", [Problem(f"{limit} is above --max-samples {cap} (the cap per task)")]
            )
        until = (load_policy(policy_path), cap)

    settings = Settings()
    if max_connections is not None:
        settings = settings.model_copy(update={"upstream_max_connections": max_connections})
    report = run_with_progress(options, settings, until)
    _write_atomically(out, report.model_dump_json(indent=2, exclude_none=False) + "\n")
    print_summary(report)
    console().print(f"wrote {out}")
    if then_decide and policy_path is not None:
        from releasegate._cli.decide import print_summary as print_decision
        from releasegate._cli.decide import run_decide

        target = decision_out or out.with_name(out.stem + "-decision")
        decision, _, _ = run_decide(out, policy_path, target, force=True)
        print_decision(decision, target)


def run_with_progress(
    options: AssessOptions,
    settings: Settings,
    until: tuple[ReleasePolicy, int] | None = None,
) -> RiskReport:
    """Run `assess` showing its progress on stderr: a Rich bar per task on a terminal, else a
    plain line at least every 4 s (done / total samples, rate, ETA).

    Args:
        options: the assessment.
        settings: releasegate settings.
        until: (policy, max samples) to grow the sample until the policy decides every
            indicator (`assess_until_decidable`).
    """
    import asyncio

    from releasegate._cli._progress import AssessProgress
    from releasegate.assess import assess, assess_until_decidable
    from releasegate.assess._progress import listen_samples

    with AssessProgress(err_console()) as progress, listen_samples(progress):
        if until is None:
            return assess(options, settings, progress)
        policy, cap = until
        return asyncio.run(
            assess_until_decidable(options, settings, policy, max_samples=cap, progress=progress)
        )
