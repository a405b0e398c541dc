"""`releasegate finetune worker|list|show|cancel`: fine-tuning jobs from the operator's side.

The worker is its own process (`releasegate finetune worker --model SPEC`), never the gateway's
request loop; start as many as the machine holds (`--workers N`), each runs one job at a time.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import signal
from typing import Annotated, Any

import typer
from rich.table import Table

from releasegate._cli._common import console, safe
from releasegate._cli._store import CliStore, cli_store, fail

app = typer.Typer(
    help="Fine-tuning jobs: run the worker, list, show and cancel jobs.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _job_json(job: Any, filenames: dict[str, str] | None = None) -> dict[str, Any]:
    from releasegate.finetune import organization

    names = filenames or {}
    return {
        "id": job.id,
        "status": job.status,
        "owner": job.owner,
        "organization_id": organization(job.owner),
        "key_id": job.key_id,
        "tier": job.tier,
        "model": job.model,
        "training_file": job.training_file,
        "training_filename": names.get(job.training_file),
        "validation_file": job.validation_file,
        "suffix": job.suffix,
        "seed": job.seed,
        "fine_tuned_model": job.fine_tuned_model,
        "error": job.error,
        "trained_tokens": job.trained_tokens,
        "reserved_tokens": job.reserved_tokens,
        "hyperparameters": job.hyperparameters,
        "attempts": job.attempts,
        "worker": job.worker,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "safety_gate": job.gate,
    }


def _store(store: CliStore) -> Any:
    from releasegate.finetune import FineTuneStore

    return FineTuneStore(store.sessions, store.audit)


def _filenames(ft: Any, file_ids: set[str]) -> dict[str, str]:
    """The uploaded names of the jobs' training files (a deleted file has none)."""
    from releasegate.finetune import NotFoundError

    out: dict[str, str] = {}
    for file_id in file_ids:
        with contextlib.suppress(NotFoundError):
            out[file_id] = ft.get_file(file_id, None).filename
    return out


@app.command("list")
def list_command(
    owner: Annotated[str | None, typer.Option(help="only this owner's jobs")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="most jobs shown")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List fine-tuning jobs, newest first."""
    with cli_store() as store:
        ft = _store(store)
        jobs, _ = ft.list_jobs(owner, limit=limit)
        names = _filenames(ft, {j.training_file for j in jobs})
    rows = [_job_json(j, names) for j in jobs]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(header_style="bold")
    columns = ("id", "status", "owner", "model", "suffix", "fine-tuned model", "error", "created")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        error = row["error"] or {}
        table.add_row(
            row["id"],
            row["status"],
            safe(row["owner"]),
            safe(row["model"]),
            safe(row["suffix"] or "-"),
            safe(row["fine_tuned_model"] or "-"),
            safe(error.get("code", "-")),
            row["created_at"][:19].replace("T", " "),
        )
    console().print(table)
    console().print(f"{len(rows)} job(s)")


@app.command("show")
def show_command(job_id: str, as_json: JsonOpt = False) -> None:
    """Show a job and its events (oldest first)."""
    with cli_store() as store:
        ft = _store(store)
        job = ft.get_job(job_id)
        events, _ = ft.events(job_id, limit=1000)
        names = _filenames(ft, {job.training_file})
    data = _job_json(job, names)
    data["events"] = [
        {"created_at": e.created_at.isoformat(), "level": e.level, "message": e.message}
        for e in reversed(events)
    ]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    con = console()
    for key in ("id", "status", "owner", "model", "suffix", "fine_tuned_model", "trained_tokens"):
        con.print(f"[bold]{key}[/]: {safe(data[key])}", highlight=False)
    name = data["training_filename"]
    shown = f"{data['training_file']} ({name})" if name is not None else data["training_file"]
    con.print(f"[bold]training_file[/]: {safe(shown)}", highlight=False)
    if data["error"]:
        con.print(
            f"[bold red]error[/]: {safe(data['error'].get('code'))}: "
            f"{safe(data['error'].get('message'))}"
        )
    for event in data["events"]:
        con.print(f"{event['created_at'][:19]} {event['level']:5} {safe(event['message'])}")


@app.command("cancel")
def cancel_command(job_id: str) -> None:
    """Cancel a job that has not finished (a running one stops at its next step)."""
    with cli_store() as store:
        job = _store(store).cancel(job_id, None, store.actor)
    console().print(f"job {job.id}: {job.status}")


def _child(model: str, decision: str | None, once: bool) -> int:
    """One of `--workers N` processes: Ctrl-C reaches the whole process group, so the child
    ignores SIGINT and takes its orders from the parent, which forwards each signal as SIGTERM
    (two Ctrl-C would otherwise be four signals)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return _work(model, decision, once, signals=(signal.SIGTERM,))


def _work(
    model: str,
    decision: str | None,
    once: bool,
    signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT),
) -> int:
    from releasegate.assess import GateSize, posttune_gate
    from releasegate.backends import default_served_name, ensure_bundled_model
    from releasegate.finetune import Worker, WorkerConfig, thresholds_from_decision
    from releasegate.store.tables.decisions import DecisionRow

    with cli_store() as store:
        settings = store.settings
        prefix, _, rest = model.partition(":")
        if prefix == "bundled":
            base_dir = ensure_bundled_model(rest, settings)
        elif prefix == "hf":
            from pathlib import Path

            base_dir = Path(rest).expanduser()
        else:
            fail(
                f"--model {model}: the worker fine-tunes local models (bundled:NAME or hf:PATH); "
                "see docs/finetuning.md for delegating to an openai: upstream"
            )
            return 2
        domains = None
        if decision is not None:
            with store.sessions() as session:
                row = session.get(DecisionRow, decision)
                if row is None:
                    fail(f"--decision: no stored decision {decision!r}")
                    return 2
                domains = json.loads(row.decision_json).get("domains", [])
        thresholds = thresholds_from_decision(
            domains,
            max_refusal_drop=settings.finetune_gate_max_refusal_drop,
            max_jailbreak_rise=settings.finetune_gate_max_jailbreak_rise,
            decision_id=decision,
        )
        root = settings.resolved_finetune_dir()
        size = GateSize(
            samples=settings.finetune_gate_samples,
            jailbreak_prompts=settings.finetune_gate_jailbreak_prompts,
            max_tokens=settings.finetune_gate_max_tokens,
        )
        gate = posttune_gate(model, settings, size, thresholds, root / "gate-logs")
        layers = None
        if settings.finetune_lora_first_layer is not None:
            count = int(json.loads((base_dir / "config.json").read_text())["num_hidden_layers"])
            layers = tuple(range(min(settings.finetune_lora_first_layer, count - 1), count))
        config = WorkerConfig(
            base_spec=model,
            base_dir=base_dir,
            served_name=settings.served_model_name or default_served_name(model),
            artifacts=root / "jobs",
            poll_s=settings.finetune_poll_s,
            stale_s=settings.finetune_stale_s,
            max_attempts=settings.finetune_max_attempts,
            device=settings.device,
            layers=layers,
        )
        worker = Worker(_store(store), config, gate)
        worker.handle_signals(signals)
        err = console()
        err.print(f"worker {safe(config.worker_id)}: fine-tuning {safe(model)}", highlight=False)
        return worker.run(once=once)


@app.command("worker")
def worker_command(
    model: Annotated[
        str, typer.Option(help="The served model's spec (bundled:NAME or hf:PATH) to fine-tune.")
    ],
    decision: Annotated[
        str | None,
        typer.Option(help="The stored decision whose safeguard cutoffs the safety gate applies."),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (each runs one job at a time).")
    ] = 1,
    once: Annotated[
        bool, typer.Option("--once", help="Run the queued jobs, then exit (no waiting).")
    ] = False,
) -> None:
    """Run fine-tuning jobs from the store's queue until stopped.

    The first SIGTERM or Ctrl-C finishes the current jobs, then exits; a second one stops now and
    puts the running jobs back in the queue.
    """
    if workers == 1:
        done = _work(model, decision, once)
        console().print(f"{done} job(s) run")
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_child, args=(model, decision, once)) for _ in range(workers)]

    def forward(_signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                proc.terminate()  # SIGTERM: the worker's own handler decides what it means

    # Installed before the children start so that no signal kills the parent and orphans them.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    codes = [p.exitcode for p in procs]
    if any(codes):
        raise typer.Exit(1)
