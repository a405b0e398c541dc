"""`releasegate finetune worker --workers 2`, the real command, on PostgreSQL: two queued jobs
are taken by the two worker processes, one each, and train at the same time; the first SIGTERM
lets them go on and finish their jobs, then the command exits; a second one stops them now and
every running job goes back to the queue. Either way no job is left `running` and no worker
process outlives the command.

The base model is a random two-layer Llama with the bundled model's tokenizer, so each LoRA step
takes milliseconds; the jobs ask for far more steps than the test waits for.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from releasegate.audit import AuditLog
from releasegate.finetune import FileLimits, FineTuneStore, parse_training_file
from tests.helpers.finetune import BENIGN, jsonl
from tests.helpers.gateway import AUDIT_KEY
from tests.helpers.stores import migrated_store

EXE = Path(sys.executable).parent / "releasegate"
STEPS = 1_000_000
GRACEFUL_STEPS = 300


def _tiny_base(smollm2_dir: Path, out: Path) -> Path:
    from transformers import AutoConfig, AutoModelForCausalLM

    out.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (smollm2_dir / name).exists():
            shutil.copy(smollm2_dir / name, out / name)
    config = AutoConfig.from_pretrained(smollm2_dir, local_files_only=True)
    config.hidden_size, config.intermediate_size = 32, 64
    config.num_hidden_layers, config.num_attention_heads = 2, 2
    config.num_key_value_heads, config.head_dim = 1, 16
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _steps_done(store: FineTuneStore, job_id: str) -> int:
    events, _ = store.events(job_id, limit=1000)
    return max(int((e.data or {}).get("step", 0)) for e in events)


def _steps(store: FineTuneStore, job_id: str) -> int:
    events, _ = store.events(job_id, limit=1)
    return int((events[0].data or {}).get("step", 0)) if events else 0


def _queue(store: FineTuneStore, steps: int) -> list[str]:
    ids = []
    for n in range(2):
        content = jsonl(BENIGN)
        f = store.create_file(
            owner="team-w",
            key_id="k1",
            filename="t.jsonl",
            purpose="fine-tune",
            parsed=parse_training_file(content, FileLimits(10_000, 100)),
            content=content.decode(),
            screening={"passed": True, "flagged": []},
        )
        job = store.create_job(
            owner="team-w",
            key_id="k1",
            tier="researcher",
            model="tiny-base",
            training_file=f.id,
            validation_file=None,
            suffix=None,
            seed=n,
            hyperparameters={"steps": steps, "learning_rate": 1e-4, "batch_size": 1},
            reserved_tokens=10,
        )
        ids.append(job.id)
    return ids


def _start(base: Path, postgres_url: str, data: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "RELEASEGATE_DATABASE_URL": postgres_url,
        "RELEASEGATE_AUDIT_HMAC_KEY": AUDIT_KEY,
        "RELEASEGATE_DATA_DIR": str(data),
        "RELEASEGATE_DEVICE": "cpu",
        "RELEASEGATE_FINETUNE_GATE_SAMPLES": "2",
        "RELEASEGATE_FINETUNE_GATE_JAILBREAK_PROMPTS": "1",
        "RELEASEGATE_FINETUNE_GATE_MAX_TOKENS": "4",
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [str(EXE), "finetune", "worker", "--model", f"hf:{base}", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _both_training(
    proc: subprocess.Popen[bytes], store: FineTuneStore, ids: list[str]
) -> list[int]:
    """Wait until each job runs and has trained a step; assert one job per worker process.
    Returns the workers' pids."""
    deadline = time.monotonic() + 45
    while True:
        jobs = [store.get_job(i) for i in ids]
        if all(j.status == "running" for j in jobs) and all(_steps(store, i) >= 1 for i in ids):
            break
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
        assert time.monotonic() < deadline, [(j.status, j.worker) for j in jobs]
        time.sleep(0.3)
    # One job per worker: two distinct worker processes, neither of them the parent.
    workers = [j.worker for j in jobs]
    assert None not in workers and len(set(workers)) == 2, workers
    pids = [int(str(w).rsplit(":", 1)[1]) for w in workers]
    assert proc.pid not in pids and all(_alive(p) for p in pids)
    assert all(j.attempts == 1 for j in jobs)
    return pids


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:  # never leave workers behind to take other tests' jobs
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.mark.postgres
def test_two_workers_take_one_job_each_and_requeue_them_when_stopped(
    postgres_url: str, smollm2_dir: Path, tmp_path: Path
) -> None:
    base = _tiny_base(smollm2_dir, tmp_path / "tiny-base")
    with migrated_store(postgres_url) as (_engine, sessions):
        store = FineTuneStore(sessions, AuditLog(sessions, AUDIT_KEY.encode()))
        ids = _queue(store, STEPS)
        proc = _start(base, postgres_url, tmp_path / "data")
        try:
            pids = _both_training(proc, store, ids)
            # First SIGTERM: each worker goes on with its job (it would finish it, then exit).
            proc.send_signal(signal.SIGTERM)
            before = [_steps(store, i) for i in ids]
            time.sleep(2)
            assert proc.poll() is None
            assert [store.get_job(i).status for i in ids] == ["running", "running"]
            assert all(_steps(store, i) > b for i, b in zip(ids, before, strict=True))

            # Second SIGTERM: stop now; both jobs are queued again, no process is left.
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
            assert proc.returncode == 0, out.decode()
            assert not any(_alive(p) for p in pids)
        finally:
            _reap(proc)
        for job_id in ids:
            job = store.get_job(job_id)
            assert (job.status, job.worker, job.attempts) == ("queued", None, 0)
            events, _ = store.events(job_id, limit=5)
            assert "was stopped; the job is queued again" in events[0].message


@pytest.mark.postgres
def test_one_sigterm_lets_both_workers_finish_their_jobs(
    postgres_url: str, smollm2_dir: Path, tmp_path: Path
) -> None:
    base = _tiny_base(smollm2_dir, tmp_path / "tiny-base")
    with migrated_store(postgres_url) as (_engine, sessions):
        store = FineTuneStore(sessions, AuditLog(sessions, AUDIT_KEY.encode()))
        ids = _queue(store, GRACEFUL_STEPS)
        proc = _start(base, postgres_url, tmp_path / "data")
        try:
            pids = _both_training(proc, store, ids)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=80)  # about 35 s here: training, then the gate
            assert proc.returncode == 0, out.decode()
            assert not any(_alive(p) for p in pids)
        finally:
            _reap(proc)
        for job_id in ids:
            job = store.get_job(job_id)
            # Trained to the end and gated: the outcome (the random base model may pass or fail
            # the gate) is a finished state, never running or queued.
            assert job.status in ("succeeded", "failed"), (job.status, job.error)
            assert job.error is None or job.error["code"] == "safety_gate", job.error
            assert _steps_done(store, job_id) == GRACEFUL_STEPS
