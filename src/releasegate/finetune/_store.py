"""Files, jobs and events in the store; the jobs table is the workers' queue.

Every change of state (a file uploaded or deleted, a job created, claimed, finished, cancelled or
recovered from a dead worker) appends a `finetune` audit record in the same transaction as the
change, attributed to the key or worker that made it: the change and its record commit together
or not at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.orm import Session, sessionmaker

from releasegate.audit import AuditLog
from releasegate.errors import ReleasegateError
from releasegate.finetune._files import TrainingFile
from releasegate.store._types import utcnow
from releasegate.store.tables.finetune import FineTuneEventRow, FineTuneFileRow, FineTuneJobRow

JOB_STATES = ("validating_files", "queued", "running", "succeeded", "failed", "cancelled")
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
AUDIT_KIND = "finetune"


class NotFoundError(ReleasegateError):
    """No such file or job (or it belongs to another owner: the same answer, so ids of other
    owners' objects are not confirmed)."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"no {kind} with id {ident!r}")
        self.kind = kind
        self.ident = ident


class StateError(ReleasegateError):
    """The object is in a state that does not allow the action (cancel a finished job...)."""


@dataclass(frozen=True)
class FileRecord:
    id: str
    owner: str
    filename: str
    purpose: str
    bytes: int
    examples: int
    sha256: str
    created_at: datetime
    screening: dict[str, Any]


@dataclass(frozen=True)
class JobRecord:
    id: str
    owner: str
    key_id: str
    tier: str
    model: str
    training_file: str
    validation_file: str | None
    suffix: str | None
    seed: int
    hyperparameters: dict[str, Any]
    status: str
    fine_tuned_model: str | None
    error: dict[str, Any] | None
    trained_tokens: int | None
    reserved_tokens: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    worker: str | None
    attempts: int
    artifact: str | None
    gate: dict[str, Any] | None


@dataclass(frozen=True)
class EventRecord:
    id: int
    job_id: str
    created_at: datetime
    level: str
    message: str
    type: str
    data: dict[str, Any] | None


def _file(row: FineTuneFileRow) -> FileRecord:
    return FileRecord(
        row.id,
        row.owner,
        row.filename,
        row.purpose,
        row.bytes,
        row.examples,
        row.sha256,
        row.created_at,
        row.screening,
    )


def _job(row: FineTuneJobRow) -> JobRecord:
    return JobRecord(
        id=row.id,
        owner=row.owner,
        key_id=row.key_id,
        tier=row.tier,
        model=row.model,
        training_file=row.training_file,
        validation_file=row.validation_file,
        suffix=row.suffix,
        seed=row.seed,
        hyperparameters=dict(row.hyperparameters),
        status=row.status,
        fine_tuned_model=row.fine_tuned_model,
        error=row.error,
        trained_tokens=row.trained_tokens,
        reserved_tokens=row.reserved_tokens,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        worker=row.worker,
        attempts=row.attempts,
        artifact=row.artifact,
        gate=row.gate,
    )


def _event(row: FineTuneEventRow) -> EventRecord:
    return EventRecord(
        row.id, row.job_id, row.created_at, row.level, row.message, row.type, row.data
    )


def _changed(session: Session, statement: Update) -> int:
    """Rows an UPDATE changed (its WHERE is the guard that makes a claim or a finish exact)."""
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)


def new_id(prefix: str) -> str:
    return f"{prefix}-{os.urandom(12).hex()}"


class FineTuneStore:
    """Training files, jobs and events.

    Args:
        sessions: the store's session factory.
        audit: the audit log every state change is written to, in the change's transaction.
    """

    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog) -> None:
        self._sessions = sessions
        self._audit = audit

    def _record(self, session: Session, actor: str, payload: dict[str, Any]) -> None:
        entry = self._audit.prepare(AUDIT_KIND, actor, payload)
        self._audit.append_on(session.connection(), [entry])

    def _add_event(
        self,
        session: Session,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            FineTuneEventRow(
                job_id=job_id,
                created_at=utcnow(),
                level=level,
                message=message,
                type=type,
                data=data,
            )
        )

    # -- files -------------------------------------------------------------------------------

    def record_screening(self, actor: str, payload: dict[str, Any]) -> None:
        """Audit a screening that rejected a file (nothing else is stored for it)."""
        with self._sessions.begin() as session:
            self._record(session, actor, {"action": "file.screening", **payload})

    def create_file(
        self,
        *,
        owner: str,
        key_id: str,
        filename: str,
        purpose: str,
        parsed: TrainingFile,
        content: str,
        screening: dict[str, Any],
    ) -> FileRecord:
        """Store a screened training file; its screening is audited with it."""
        row = FineTuneFileRow(
            id=new_id("file"),
            owner=owner,
            key_id=key_id,
            purpose=purpose,
            filename=filename,
            bytes=parsed.bytes,
            examples=len(parsed.examples),
            sha256=parsed.sha256,
            content=content,
            screening=screening,
            created_at=utcnow(),
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            self._record(
                session,
                key_id,
                {
                    "action": "file.screening",
                    "file_id": row.id,
                    "sha256": row.sha256,
                    **screening,
                },
            )
            record = _file(row)
        return record

    def _owned_file(self, session: Session, file_id: str, owner: str | None) -> FineTuneFileRow:
        row = session.get(FineTuneFileRow, file_id)
        if row is None or row.deleted_at is not None or (owner is not None and row.owner != owner):
            raise NotFoundError("file", file_id)
        return row

    def get_file(self, file_id: str, owner: str | None) -> FileRecord:
        """A file of `owner` (any owner when None).

        Raises:
            NotFoundError: no such file, deleted, or another owner's.
        """
        with self._sessions() as session:
            return _file(self._owned_file(session, file_id, owner))

    def file_content(self, file_id: str) -> str:
        with self._sessions() as session:
            return self._owned_file(session, file_id, None).content

    def list_files(self, owner: str, limit: int = 100) -> list[FileRecord]:
        with self._sessions() as session:
            rows = session.scalars(
                select(FineTuneFileRow)
                .where(FineTuneFileRow.owner == owner, FineTuneFileRow.deleted_at.is_(None))
                .order_by(FineTuneFileRow.created_at.desc(), FineTuneFileRow.id)
                .limit(limit)
            )
            return [_file(r) for r in rows]

    def delete_file(self, file_id: str, owner: str, actor: str) -> None:
        """Delete a file's content (the row stays, marked deleted, for the jobs that name it)."""
        with self._sessions.begin() as session:
            row = self._owned_file(session, file_id, owner)
            row.deleted_at = utcnow()
            row.content = ""
            self._record(session, actor, {"action": "file.delete", "file_id": file_id})

    # -- jobs --------------------------------------------------------------------------------

    def create_job(
        self,
        *,
        owner: str,
        key_id: str,
        tier: str,
        model: str,
        training_file: str,
        validation_file: str | None,
        suffix: str | None,
        seed: int,
        hyperparameters: dict[str, Any],
        reserved_tokens: int,
    ) -> JobRecord:
        """Create a job: its files are validated (owned, screened) and it is queued, in one
        transaction with its events and its audit record.

        Raises:
            NotFoundError: a file that is not the owner's.
            StateError: a file that did not pass screening.
        """
        with self._sessions.begin() as session:
            for fid in filter(None, (training_file, validation_file)):
                f = self._owned_file(session, fid, owner)
                if not f.screening.get("passed"):
                    raise StateError(f"file {fid!r} did not pass screening")
            row = FineTuneJobRow(
                id=new_id("ftjob"),
                owner=owner,
                key_id=key_id,
                tier=tier,
                model=model,
                training_file=training_file,
                validation_file=validation_file,
                suffix=suffix,
                seed=seed,
                hyperparameters=hyperparameters,
                status="queued",
                reserved_tokens=reserved_tokens,
                created_at=utcnow(),
                attempts=0,
                cancel_requested=False,
            )
            session.add(row)
            session.flush()
            self._add_event(session, row.id, f"Created fine-tuning job: {row.id}")
            self._add_event(session, row.id, "Validating training file: " + training_file)
            self._add_event(session, row.id, "Files validated, moving job to queued state")
            self._record(
                session,
                key_id,
                {
                    "action": "job.create",
                    "job_id": row.id,
                    "model": model,
                    "training_file": training_file,
                    "hyperparameters": hyperparameters,
                    "reserved_tokens": reserved_tokens,
                },
            )
            return _job(row)

    def get_job(self, job_id: str, owner: str | None = None) -> JobRecord:
        """Raises NotFoundError for a missing job or another owner's."""
        with self._sessions() as session:
            row = session.get(FineTuneJobRow, job_id)
            if row is None or (owner is not None and row.owner != owner):
                raise NotFoundError("fine-tuning job", job_id)
            return _job(row)

    def list_jobs(
        self, owner: str | None = None, *, after: str | None = None, limit: int = 20
    ) -> tuple[list[JobRecord], bool]:
        """Newest first; `after` is the id of the last job of the previous page. Returns the
        page and whether more follow."""
        with self._sessions() as session:
            query = select(FineTuneJobRow)
            if owner is not None:
                query = query.where(FineTuneJobRow.owner == owner)
            if after is not None:
                anchor = session.get(FineTuneJobRow, after)
                if anchor is None or (owner is not None and anchor.owner != owner):
                    raise NotFoundError("fine-tuning job", after)
                query = query.where(
                    (FineTuneJobRow.created_at < anchor.created_at)
                    | (
                        (FineTuneJobRow.created_at == anchor.created_at)
                        & (FineTuneJobRow.id > anchor.id)
                    )
                )
            rows = list(
                session.scalars(
                    query.order_by(FineTuneJobRow.created_at.desc(), FineTuneJobRow.id).limit(
                        limit + 1
                    )
                )
            )
            return [_job(r) for r in rows[:limit]], len(rows) > limit

    def events(
        self, job_id: str, owner: str | None = None, *, after: int | None = None, limit: int = 20
    ) -> tuple[list[EventRecord], bool]:
        """A job's events, newest first (OpenAI's order); `after` is an event id: the page
        holds events older than it."""
        self.get_job(job_id, owner)
        with self._sessions() as session:
            query = select(FineTuneEventRow).where(FineTuneEventRow.job_id == job_id)
            if after is not None:
                query = query.where(FineTuneEventRow.id < after)
            rows = list(
                session.scalars(query.order_by(FineTuneEventRow.id.desc()).limit(limit + 1))
            )
            return [_event(r) for r in rows[:limit]], len(rows) > limit

    def cancel(self, job_id: str, owner: str | None, actor: str) -> JobRecord:
        """Cancel a job that has not finished. A running job's worker sees the state at its
        next step and stops; nothing it trained is served.

        Raises:
            NotFoundError: no such job (or another owner's).
            StateError: the job already finished.
        """
        with self._sessions.begin() as session:
            row = session.get(FineTuneJobRow, job_id)
            if row is None or (owner is not None and row.owner != owner):
                raise NotFoundError("fine-tuning job", job_id)
            if row.status in FINISHED:
                raise StateError(f"job {job_id} already {row.status}")
            was = row.status
            row.status = "cancelled"
            row.cancel_requested = True
            row.finished_at = utcnow()
            self._add_event(session, job_id, "Job cancelled")
            self._record(session, actor, {"action": "job.cancel", "job_id": job_id, "was": was})
            return _job(row)

    # -- the worker's side -------------------------------------------------------------------

    def add_event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> None:
        with self._sessions.begin() as session:
            self._add_event(session, job_id, message, level=level, type=type, data=data)

    def claim_next(self, worker: str) -> JobRecord | None:
        """Take the oldest queued job for `worker` (None when the queue is empty). Two workers
        never get the same job: the update only succeeds while the job is still queued."""
        while True:
            with self._sessions.begin() as session:
                candidate = session.scalar(
                    select(FineTuneJobRow.id)
                    .where(FineTuneJobRow.status == "queued")
                    .order_by(FineTuneJobRow.created_at, FineTuneJobRow.id)
                    .limit(1)
                )
                if candidate is None:
                    return None
                now = utcnow()
                claimed = _changed(
                    session,
                    update(FineTuneJobRow)
                    .where(FineTuneJobRow.id == candidate, FineTuneJobRow.status == "queued")
                    .values(
                        status="running",
                        worker=worker,
                        heartbeat_at=now,
                        started_at=now,
                        attempts=FineTuneJobRow.attempts + 1,
                    ),
                )
                if not claimed:
                    continue  # another worker took it first: try the next one
                self._add_event(session, candidate, "Fine-tuning job started")
                self._record(
                    session, f"worker:{worker}", {"action": "job.start", "job_id": candidate}
                )
                row = session.get(FineTuneJobRow, candidate)
                assert row is not None
                session.refresh(row)
                return _job(row)

    def heartbeat(self, job_id: str, worker: str) -> bool:
        """Keep `worker`'s claim fresh; False when the job is no longer this worker's to run
        (cancelled, or recovered by another worker after a stall): stop at once."""
        with self._sessions.begin() as session:
            return bool(
                _changed(
                    session,
                    update(FineTuneJobRow)
                    .where(
                        FineTuneJobRow.id == job_id,
                        FineTuneJobRow.status == "running",
                        FineTuneJobRow.worker == worker,
                    )
                    .values(heartbeat_at=utcnow()),
                )
            )

    def finish(
        self,
        job_id: str,
        worker: str,
        status: str,
        *,
        message: str,
        error: dict[str, Any] | None = None,
        fine_tuned_model: str | None = None,
        trained_tokens: int | None = None,
        artifact: str | None = None,
        gate: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> bool:
        """End `worker`'s run of a job; False if it was no longer its own (cancelled)."""
        assert status in FINISHED
        with self._sessions.begin() as session:
            done = _changed(
                session,
                update(FineTuneJobRow)
                .where(
                    FineTuneJobRow.id == job_id,
                    FineTuneJobRow.status == "running",
                    FineTuneJobRow.worker == worker,
                )
                .values(
                    status=status,
                    error=error,
                    fine_tuned_model=fine_tuned_model,
                    trained_tokens=trained_tokens,
                    artifact=artifact,
                    gate=gate,
                    finished_at=utcnow(),
                ),
            )
            if not done:
                return False
            level = "info" if status == "succeeded" else "error"
            self._add_event(session, job_id, message, level=level, data=data)
            self._record(
                session,
                f"worker:{worker}",
                {
                    "action": f"job.{status}",
                    "job_id": job_id,
                    "fine_tuned_model": fine_tuned_model,
                    "error": error,
                    "trained_tokens": trained_tokens,
                    "gate": gate,
                },
            )
            return True

    def release(self, job_id: str, worker: str) -> bool:
        """Give a running job back to the queue because `worker` was stopped (not a failure:
        the interrupted run does not count as an attempt). False if it was no longer its own."""
        with self._sessions.begin() as session:
            done = _changed(
                session,
                update(FineTuneJobRow)
                .where(
                    FineTuneJobRow.id == job_id,
                    FineTuneJobRow.status == "running",
                    FineTuneJobRow.worker == worker,
                )
                .values(
                    status="queued",
                    worker=None,
                    started_at=None,
                    attempts=FineTuneJobRow.attempts - 1,
                ),
            )
            if not done:
                return False
            self._add_event(
                session,
                job_id,
                "The worker running this job was stopped; the job is queued again and restarts "
                "from its start",
                level="warn",
            )
            self._record(session, f"worker:{worker}", {"action": "job.requeue", "job_id": job_id})
            return True

    def recover_stale(self, stale_s: float, max_attempts: int, actor: str) -> list[JobRecord]:
        """Jobs `running` whose worker stopped beating for `stale_s` (it died): queued again if
        they have attempts left, else failed with code `worker_lost`. None stays `running`."""
        cutoff = utcnow() - timedelta(seconds=stale_s)
        out: list[JobRecord] = []
        with self._sessions.begin() as session:
            rows = session.scalars(
                select(FineTuneJobRow).where(
                    FineTuneJobRow.status == "running", FineTuneJobRow.heartbeat_at < cutoff
                )
            ).all()
            for row in rows:
                lost = row.worker
                if row.attempts < max_attempts:
                    row.status = "queued"
                    row.worker = None
                    message = (
                        f"The worker running this job stopped (attempt {row.attempts} of "
                        f"{max_attempts}); the job is queued again and restarts from its start"
                    )
                    level = "warn"
                else:
                    row.status = "failed"
                    row.finished_at = utcnow()
                    row.error = {
                        "code": "worker_lost",
                        "message": f"the worker stopped during each of {row.attempts} attempts",
                        "param": None,
                    }
                    message = "The worker running this job stopped; the job failed"
                    level = "error"
                self._add_event(session, row.id, message, level=level)
                self._record(
                    session,
                    actor,
                    {
                        "action": "job.recover",
                        "job_id": row.id,
                        "lost_worker": lost,
                        "status": row.status,
                        "attempts": row.attempts,
                    },
                )
                out.append(_job(row))
        return out

    def served_model(self, name: str, owner: str) -> JobRecord | None:
        """The succeeded job that produced fine-tuned model `name`, if `owner` owns it."""
        with self._sessions() as session:
            row = session.scalar(
                select(FineTuneJobRow).where(
                    FineTuneJobRow.fine_tuned_model == name,
                    FineTuneJobRow.status == "succeeded",
                )
            )
            if row is None or row.owner != owner:
                return None
            return _job(row)

    def owned_models(self, owner: str) -> list[JobRecord]:
        with self._sessions() as session:
            rows = session.scalars(
                select(FineTuneJobRow)
                .where(FineTuneJobRow.owner == owner, FineTuneJobRow.status == "succeeded")
                .order_by(FineTuneJobRow.created_at)
            )
            return [_job(r) for r in rows]


__all__ = [
    "FINISHED",
    "JOB_STATES",
    "EventRecord",
    "FileRecord",
    "FineTuneStore",
    "JobRecord",
    "NotFoundError",
    "StateError",
    "new_id",
]
