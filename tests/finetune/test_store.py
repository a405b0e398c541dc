"""The jobs table as a queue, on SQLite and PostgreSQL: one claim per job, heartbeats, cancel
while running, dead workers' jobs re-queued then failed, and an audit record per change."""

from __future__ import annotations

import threading
import time

from releasegate.audit import AuditLog
from releasegate.finetune import FileLimits, FineTuneStore, parse_training_file
from tests.helpers.finetune import BENIGN, jsonl
from tests.helpers.stores import TEST_HMAC_KEY, migrated_store


def _job(store: FineTuneStore) -> str:
    parsed = parse_training_file(jsonl(BENIGN), FileLimits(10_000, 100))
    f = store.create_file(
        owner="o",
        key_id="k1",
        filename="t.jsonl",
        purpose="fine-tune",
        parsed=parsed,
        content=jsonl(BENIGN).decode(),
        screening={"passed": True, "flagged": []},
    )
    job = store.create_job(
        owner="o",
        key_id="k1",
        tier="researcher",
        model="m",
        training_file=f.id,
        validation_file=None,
        suffix=None,
        seed=0,
        hyperparameters={"steps": 1},
        reserved_tokens=10,
    )
    return job.id


def test_claims_heartbeats_cancel_and_recovery(database_url: str) -> None:
    with migrated_store(database_url) as (_engine, sessions):
        audit = AuditLog(sessions, TEST_HMAC_KEY)
        store = FineTuneStore(sessions, audit)
        first, second = _job(store), _job(store)
        # Eight workers race for two jobs: each job is claimed exactly once.
        claimed: list[str] = []
        lock = threading.Lock()

        def race(n: int) -> None:
            job = store.claim_next(f"w{n}")
            if job is not None:
                with lock:
                    claimed.append(job.id)

        threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(claimed) == sorted([first, second])
        jobs = {j.id: j for j in store.list_jobs("o")[0]}
        assert {j.status for j in jobs.values()} == {"running"}
        owner_of_first = jobs[first].worker
        assert owner_of_first is not None
        assert store.heartbeat(first, owner_of_first) is True
        assert store.heartbeat(first, "someone-else") is False
        # Cancelled while running: the worker's next heartbeat says stop; its finish is refused.
        store.cancel(first, "o", "k1")
        assert store.heartbeat(first, owner_of_first) is False
        assert store.finish(first, owner_of_first, "succeeded", message="done") is False
        assert store.get_job(first).status == "cancelled"
        # The second job's worker dies: re-queued once (attempts left), then failed.
        time.sleep(1.1)
        [requeued] = store.recover_stale(1.0, 2, "worker:w9")
        assert requeued.id == second and requeued.status == "queued"
        again = store.claim_next("w9")
        assert again is not None and again.id == second and again.attempts == 2
        time.sleep(1.1)
        [failed] = store.recover_stale(1.0, 2, "worker:w10")
        assert failed.status == "failed" and failed.error is not None
        assert failed.error["code"] == "worker_lost"
        assert store.recover_stale(1.0, 2, "worker:w10") == []
        actions = [r.payload["action"] for r in audit.records() if r.kind == "finetune"]
        assert actions.count("job.create") == 2 and actions.count("job.start") == 3
        assert actions.count("job.recover") == 2 and "job.cancel" in actions
        assert audit.verify().ok


def test_release_queues_a_stopped_workers_job_again(database_url: str) -> None:
    with migrated_store(database_url) as (_engine, sessions):
        audit = AuditLog(sessions, TEST_HMAC_KEY)
        store = FineTuneStore(sessions, audit)
        job_id = _job(store)
        claimed = store.claim_next("w1")
        assert claimed is not None and claimed.id == job_id and claimed.attempts == 1
        assert store.release(job_id, "w2") is False  # only the worker holding it
        assert store.release(job_id, "w1") is True
        job = store.get_job(job_id)
        assert (job.status, job.worker, job.attempts, job.started_at) == ("queued", None, 0, None)
        assert store.release(job_id, "w1") is False  # no longer running
        events, _ = store.events(job_id, limit=1)
        assert events[0].level == "warn" and "queued again" in events[0].message
        again = store.claim_next("w2")  # the next worker starts it afresh, as its first attempt
        assert again is not None and again.id == job_id and again.attempts == 1
        store.cancel(job_id, None, "admin")
        assert store.release(job_id, "w2") is False  # a cancelled job stays cancelled
        assert store.get_job(job_id).status == "cancelled"
        actions = [r.payload["action"] for r in audit.records() if r.kind == "finetune"]
        assert actions.count("job.requeue") == 1
        assert audit.verify().ok
