"""The fine-tuning worker: takes queued jobs from the store one at a time, trains a LoRA adapter
with the local backend's code, runs the post-tune safety gate, and records the outcome.

Run it as its own process (`releasegate finetune worker`), never in the gateway's request loop:
training holds the CPU for minutes. Several workers may share one store; each claims one job at
a time (the claim is an update that only succeeds while the job is queued). While a job runs, a
heartbeat thread keeps its claim fresh; a worker that starts or polls fails or re-queues the jobs
of workers whose heartbeat stopped (killed, out of memory, machine lost), so no job stays
`running` without a live worker. A job cancelled while it trains stops at its next step.

Stopping a worker (`Worker.handle_signals`): the first SIGTERM or SIGINT lets it finish its
current job, then it exits; a second one stops it at the job's next training step and puts the
job back in the queue (the interrupted run does not count as an attempt), so another worker
starts it again. A job already in its safety gate finishes first.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from releasegate.finetune._files import FileLimits, parse_training_file
from releasegate.finetune._gate import GateOutcome, SafetyGate
from releasegate.finetune._store import FineTuneStore, JobRecord

log = logging.getLogger("releasegate.finetune")


class _Stopped(Exception):
    """The job is no longer this worker's (cancelled, or taken over after a stall)."""


class _Aborted(BaseException):
    """The worker was told to stop now: its job goes back to the queue. A BaseException, so
    that the trainer's own `except Exception` handlers let it through."""


@dataclass
class WorkerConfig:
    """How a worker runs.

    Args:
        base_spec: the served model's spec (`bundled:smollm2-guarded`, `hf:PATH`).
        base_dir: its local transformers directory (what LoRA trains on).
        served_name: the name clients use for it (a job's `model` must be this).
        artifacts: where adapters are written (`<artifacts>/<job id>/adapter`); the gateway
            must read the same path (a shared volume for a fleet).
        poll_s: seconds between looks at an empty queue.
        stale_s: a running job whose heartbeat is older than this lost its worker.
        max_attempts: runs of a job before a lost worker fails it (1: fail at once).
        rank, max_length, layers, device: the LoRA run's shape.
    """

    base_spec: str
    base_dir: Path
    served_name: str
    artifacts: Path
    poll_s: float = 1.0
    stale_s: float = 60.0
    max_attempts: int = 2
    rank: int = 8
    max_length: int = 256
    layers: tuple[int, ...] | None = None
    device: str = "cpu"
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


def organization(owner: str) -> str:
    """A key owner as the `<org>` part of an `ft:` model name (no colons)."""
    return re.sub(r"[^A-Za-z0-9._@-]+", "-", owner)[:64] or "owner"


def fine_tuned_name(base: str, owner: str, job_id: str) -> str:
    """`ft:<base>:<org>:<id>`: the name a succeeded job's model is served under."""
    return f"ft:{base}:{organization(owner)}:{job_id.removeprefix('ftjob-')}"


class Worker:
    """Runs queued jobs one at a time.

    Args:
        store: the jobs' store.
        config: the base model, paths and timings.
        gate: the post-tune safety gate (required: an ungated tuned model is never served).
        train: the trainer (`releasegate.backends.lora_finetune` by default).
    """

    def __init__(
        self,
        store: FineTuneStore,
        config: WorkerConfig,
        gate: SafetyGate,
        train: Callable[..., Any] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.gate = gate
        self._train = train
        self._stop = threading.Event()
        self._abort = threading.Event()

    def stop(self) -> None:
        """Finish the current job, then return from `run`."""
        self._stop.set()

    def abort(self) -> None:
        """Stop the current job at its next step, queue it again, then return from `run`."""
        self._stop.set()
        self._abort.set()

    def handle_signals(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Install handlers (main thread only): the first signal is `stop`, the next `abort`.

        The handlers only set flags: the job is interrupted at its next training step, never in
        the middle of a store transaction. A job already in its safety gate finishes it.
        """

        def handler(signum: int, _frame: object) -> None:
            if not self._stop.is_set():
                log.warning("signal %d: finishing the current job, then stopping", signum)
                self.stop()
            elif not self._abort.is_set():
                log.warning("signal %d: stopping now; the current job is queued again", signum)
                self.abort()

        for signum in signals:
            signal.signal(signum, handler)

    def recover(self) -> list[JobRecord]:
        """Fail or re-queue the jobs of workers that died."""
        c = self.config
        return self.store.recover_stale(c.stale_s, c.max_attempts, f"worker:{c.worker_id}")

    def run(self, *, once: bool = False) -> int:
        """Work until stopped (or, with `once`, until the queue is empty). Returns jobs run."""
        done = 0
        while not self._stop.is_set():
            self.recover()
            job = self.store.claim_next(self.config.worker_id)
            if job is None:
                if once:
                    break
                self._stop.wait(self.config.poll_s)
                continue
            self.process(job)
            done += 1
        return done

    # -- one job -----------------------------------------------------------------------------

    def process(self, job: JobRecord) -> None:
        """Train, gate and finish one claimed job; never leaves it `running`."""
        c = self.config
        beat_stop = threading.Event()
        lost = threading.Event()

        def beat() -> None:
            while not beat_stop.wait(max(0.2, c.stale_s / 4)):
                try:
                    if not self.store.heartbeat(job.id, c.worker_id):
                        lost.set()
                        return
                except Exception:  # the store is down: the next beat retries
                    log.warning("heartbeat of %s failed", job.id, exc_info=True)

        beater = threading.Thread(target=beat, name=f"heartbeat-{job.id}", daemon=True)
        beater.start()
        try:
            if self._abort.is_set():
                raise _Aborted
            self._run_job(job, lost)
        except _Aborted:
            if self.store.release(job.id, c.worker_id):
                log.warning("job %s queued again: this worker was stopped", job.id)
        except _Stopped:
            log.info("job %s stopped: it is no longer this worker's", job.id)
        except Exception as exc:
            log.exception("job %s failed", job.id)
            self.store.finish(
                job.id,
                c.worker_id,
                "failed",
                message=f"Fine-tuning failed: {type(exc).__name__}",
                error={"code": "training_error", "message": str(exc)[:500], "param": None},
            )
        finally:
            beat_stop.set()
            beater.join()

    def _run_job(self, job: JobRecord, lost: threading.Event) -> None:
        c = self.config
        if job.model != c.served_name:
            self.store.finish(
                job.id,
                c.worker_id,
                "failed",
                message=f"This worker fine-tunes {c.served_name!r}, not {job.model!r}",
                error={
                    "code": "invalid_model",
                    "message": f"no worker for {job.model!r}",
                    "param": "model",
                },
            )
            return
        content = self.store.file_content(job.training_file)
        parsed = parse_training_file(
            content.encode(), FileLimits(len(content.encode()) + 1, 10**9), name=job.training_file
        )
        examples = [{"messages": [m.model_dump() for m in e.messages]} for e in parsed.examples]
        plan = job.hyperparameters
        steps = int(plan["steps"])

        def on_step(step: int, loss: float) -> None:
            if self._abort.is_set():
                raise _Aborted
            if lost.is_set() or not self.store.heartbeat(job.id, c.worker_id):
                raise _Stopped
            self.store.add_event(
                job.id,
                f"Step {step}/{steps}: training loss={loss:.4f}",
                type="metrics",
                data={"step": step, "total_steps": steps, "train_loss": loss},
            )

        from releasegate.backends import LoraRunConfig, lora_finetune

        train = self._train or lora_finetune
        adapter_dir = c.artifacts / job.id / "adapter"
        run = LoraRunConfig(
            steps=steps,
            learning_rate=float(plan["learning_rate"]),
            rank=c.rank,
            batch_size=int(plan["batch_size"]),
            seed=job.seed,
            max_length=c.max_length,
            layers=c.layers,
            device=c.device,
        )
        self.store.add_event(
            job.id, f"Training a LoRA adapter: {steps} steps on {len(examples)} examples"
        )
        adapter, stats = train(c.base_dir, examples, run, adapter_dir, on_step=on_step)
        if lost.is_set() or not self.store.heartbeat(job.id, c.worker_id):
            raise _Stopped
        spec = f"lora:{adapter}"
        self.store.add_event(
            job.id,
            "Running the post-tune safety gate (refusal and jailbreak suites, base vs tuned)",
        )
        started = time.perf_counter()
        outcome: GateOutcome = self.gate(spec)
        outcome = outcome.model_copy(update={"seconds": round(time.perf_counter() - started, 2)})
        gate_json = outcome.model_dump(mode="json")
        numbers = {"base": outcome.base, "tuned": outcome.tuned}
        if not outcome.passed:
            self.store.finish(
                job.id,
                c.worker_id,
                "failed",
                message="The tuned model failed the safety gate: " + "; ".join(outcome.reasons),
                error={
                    "code": "safety_gate",
                    "message": "the tuned model lost safeguards the base model has: "
                    + "; ".join(outcome.reasons),
                    "param": None,
                },
                trained_tokens=stats.tokens,
                gate=gate_json,
                data=numbers,
            )
            return
        name = fine_tuned_name(c.served_name, job.owner, job.id)
        self.store.finish(
            job.id,
            c.worker_id,
            "succeeded",
            message=f"The job has successfully completed; the safety gate passed: {name}",
            fine_tuned_model=name,
            trained_tokens=stats.tokens,
            artifact=spec,
            gate=gate_json,
            data=numbers,
        )


__all__ = ["Worker", "WorkerConfig", "fine_tuned_name", "organization"]
