"""The fine-tuning routes' handlers: `/v1/files` and `/v1/fine_tuning/jobs` (tier capability
`fine_tuning`).

An upload is parsed against the tier's size and line limits and screened by the tier's guards
before anything is stored; a file that fails screening is refused with its flagged lines and
categories (never its text), and the screening is audited either way. A job reserves its
training tokens (an upper bound: the file's text bytes times its epochs) against the key's
daily quota when it is created; a worker process trains it (`releasegate finetune worker`).
Each key sees only its owner's files and jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from releasegate.errors import InputError
from releasegate.finetune import (
    EventRecord,
    FileLimits,
    FileRecord,
    FineTuneStore,
    JobRecord,
    NotFoundError,
    ScreeningPolicy,
    StateError,
    organization,
    parse_training_file,
    plan_run,
    screen_examples,
)
from releasegate.gateway._authz import require
from releasegate.gateway._call import Call, NoInput, Unary
from releasegate.gateway._errors import ApiError, bad_request, unavailable
from releasegate.gateway._finetune_models import (
    CreateJobRequest,
    EventListQuery,
    FileUploadRequest,
    JobListQuery,
)
from releasegate.gateway._state import Gateway
from releasegate.guards._base import GuardError

Outcome = tuple[object, dict[str, object]]  # (response body, audit details)
Action = Callable[[Call], Awaitable[Outcome]]


def file_json(record: FileRecord) -> dict[str, Any]:
    screening = record.screening
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": int(record.created_at.timestamp()),
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
        "status_details": None,
        "expires_at": None,
        "releasegate": {
            "examples": record.examples,
            "sha256": record.sha256,
            "screening": {
                "passed": screening.get("passed"),
                "flagged": screening.get("flagged", []),
                "guards": screening.get("guards"),
            },
        },
    }


def job_json(job: JobRecord) -> dict[str, Any]:
    hp = job.hyperparameters
    return {
        "id": job.id,
        "object": "fine_tuning.job",
        "created_at": int(job.created_at.timestamp()),
        "error": job.error,
        "fine_tuned_model": job.fine_tuned_model,
        "finished_at": int(job.finished_at.timestamp()) if job.finished_at else None,
        "hyperparameters": {
            "n_epochs": hp.get("n_epochs"),
            "batch_size": hp.get("batch_size"),
            "learning_rate_multiplier": hp.get("learning_rate_multiplier"),
        },
        "model": job.model,
        "organization_id": organization(job.owner),
        "result_files": [],
        "seed": job.seed,
        "status": job.status,
        "trained_tokens": job.trained_tokens,
        "training_file": job.training_file,
        "validation_file": job.validation_file,
        "estimated_finish": None,
        "integrations": None,
        "metadata": hp.get("metadata"),
        "releasegate": {
            "steps": hp.get("steps"),
            "learning_rate": hp.get("learning_rate"),
            "reserved_tokens": job.reserved_tokens,
            "attempts": job.attempts,
            "safety_gate": job.gate,
        },
    }


def event_json(event: EventRecord) -> dict[str, Any]:
    return {
        "id": f"ftevent-{event.id}",
        "object": "fine_tuning.job.event",
        "created_at": int(event.created_at.timestamp()),
        "level": event.level,
        "message": event.message,
        "type": event.type,
        "data": event.data,
    }


class FineTuneRoute(NoInput):
    """One fine-tuning action; store errors become 404 (unknown or another owner's) or 400."""

    def __init__(self, action: Action) -> None:
        self._action = action

    def parse(self, body: BaseModel | None, call: Call) -> BaseModel | None:
        return body

    async def execute(self, call: Call) -> Unary:
        try:
            body, details = await self._action(call)
        except NotFoundError as exc:
            raise ApiError(404, str(exc), code=f"{exc.kind.replace(' ', '_')}_not_found") from exc
        except StateError as exc:
            raise bad_request(str(exc), code="invalid_state") from exc
        call.audit_extra["action"] = call.route
        call.audit_extra.update(details)
        return Unary(outputs=[], render=lambda _v: body)


def _store(g: Gateway) -> FineTuneStore:
    if g.finetune is None:  # pragma: no cover - every started gateway has one
        raise unavailable("fine-tuning is not available on this gateway", code="unavailable")
    return g.finetune


def _who(call: Call) -> tuple[str, str]:
    principal = call.principal
    assert principal is not None
    return principal.owner, principal.id


# -- files -------------------------------------------------------------------------------------


class UploadRoute(FineTuneRoute):
    """`POST /v1/files`: parse, screen, store."""

    def __init__(self, g: Gateway) -> None:
        super().__init__(self._upload)
        self.g = g

    async def _upload(self, call: Call) -> Outcome:
        req = call.parsed
        assert isinstance(req, FileUploadRequest)
        principal = call.principal
        assert principal is not None and principal.tier is not None
        tier = principal.tier
        store = _store(self.g)
        limits = FileLimits(tier.fine_tuning_max_file_bytes, tier.fine_tuning_max_examples)
        try:
            parsed = parse_training_file(req.file, limits, name=req.filename)
        except InputError as exc:
            first = exc.problems[0]
            raise bad_request(
                f"the training file is invalid: {exc}",
                param=f"file:{first.line}" if first.line else "file",
                code="invalid_training_file",
            ) from None
        if principal.guards is None:  # pragma: no cover - every key has its tier's chain
            raise unavailable("no guards for this tier; the file cannot be screened")
        policy = ScreeningPolicy(
            frozenset(tier.fine_tuning_blocked_categories), tier.fine_tuning_max_flagged_fraction
        )
        try:
            report = await screen_examples(parsed.examples, principal.guards, policy)
        except GuardError as exc:
            raise unavailable(
                f"the guards could not screen the file ({exc}); nothing was stored",
                code="guard_unavailable",
            ) from exc
        owner, key_id = _who(call)
        screening = {**report.model_dump(mode="json"), "text_bytes": parsed.text_bytes}
        details: dict[str, object] = {
            "examples": report.examples,
            "flagged_lines": sorted({f.line for f in report.flagged}),
            "passed": report.passed,
        }
        if not report.passed:
            await asyncio.to_thread(
                store.record_screening,
                key_id,
                {"filename": req.filename, "sha256": parsed.sha256, **screening},
            )
            lines = ", ".join(
                f"line {f.line} ({f.side}: {', '.join(f.categories) or 'unspecified'})"
                for f in report.flagged
            )
            raise ApiError(
                400,
                f"the training file was rejected by screening: {report.reason}. Flagged: {lines}",
                param="file",
                code="harmful_training_data",
                extra={
                    "releasegate": {
                        "screening": {
                            "examples": report.examples,
                            "flagged": [f.model_dump() for f in report.flagged],
                            "blocked_lines": report.blocked_lines,
                            "flagged_fraction": report.flagged_fraction,
                            "max_flagged_fraction": report.max_flagged_fraction,
                            "blocked_categories": report.blocked_categories,
                            "reason": report.reason,
                        }
                    }
                },
            )
        record = await asyncio.to_thread(
            lambda: store.create_file(
                owner=owner,
                key_id=key_id,
                filename=req.filename,
                purpose=req.purpose,
                parsed=parsed,
                content=req.file.decode("utf-8"),
                screening=screening,
            )
        )
        details["file_id"] = record.id
        return file_json(record), details


def upload_file_route(g: Gateway) -> UploadRoute:
    """The handler of `POST /v1/files`."""
    return UploadRoute(g)


def list_files_route(g: Gateway) -> FineTuneRoute:
    """The handler of `GET /v1/files`."""

    async def run(call: Call) -> Outcome:
        owner, _ = _who(call)
        files = await asyncio.to_thread(_store(g).list_files, owner)
        return {"object": "list", "data": [file_json(f) for f in files], "has_more": False}, {}

    return FineTuneRoute(run)


def show_file_route(g: Gateway) -> FineTuneRoute:
    """The handler of `GET /v1/files/{file_id}`."""

    async def run(call: Call) -> Outcome:
        owner, _ = _who(call)
        file_id = call.path_params["file_id"]
        record = await asyncio.to_thread(_store(g).get_file, file_id, owner)
        return file_json(record), {"file_id": file_id}

    return FineTuneRoute(run)


def delete_file_route(g: Gateway) -> FineTuneRoute:
    """The handler of `DELETE /v1/files/{file_id}`."""

    async def run(call: Call) -> Outcome:
        owner, key_id = _who(call)
        file_id = call.path_params["file_id"]
        await asyncio.to_thread(_store(g).delete_file, file_id, owner, key_id)
        return {"id": file_id, "object": "file", "deleted": True}, {"file_id": file_id}

    return FineTuneRoute(run)


# -- jobs --------------------------------------------------------------------------------------


class CreateJobRoute(FineTuneRoute):
    """`POST /v1/fine_tuning/jobs`: the file is checked and the run planned in `parse`, so
    the pipeline can reserve the job's training tokens against the key's quota."""

    def __init__(self, g: Gateway) -> None:
        super().__init__(self._create)
        self.g = g

    def parse(self, body: BaseModel | None, call: Call) -> dict[str, Any]:  # type: ignore[override]
        assert isinstance(body, CreateJobRequest)
        principal = call.principal
        assert principal is not None
        if principal.tier is None:
            raise ApiError(403, "the admin token cannot fine-tune", type="permission_error")
        tier = principal.tier
        require(tier, "fine_tuning")  # before any lookup: no file ids confirmed to others
        if body.model != self.g.model_name:
            raise ApiError(
                404,
                f"the model {body.model!r} cannot be fine-tuned here; this gateway fine-tunes "
                f"{self.g.model_name!r}",
                param="model",
                code="model_not_found",
            )
        store = _store(self.g)
        try:
            record = store.get_file(body.training_file, principal.owner)
        except NotFoundError as exc:
            raise ApiError(404, str(exc), param="training_file", code="file_not_found") from exc
        if not record.screening.get("passed"):  # pragma: no cover - rejected files are not kept
            raise bad_request("training_file did not pass screening", param="training_file")
        hp = body.hyperparameters.model_dump() if body.hyperparameters else {}
        try:
            plan = plan_run(hp, record.examples, tier.fine_tuning_max_steps)
        except InputError as exc:
            raise bad_request(str(exc), param=exc.problems[0].path) from None
        if body.metadata:
            plan["metadata"] = body.metadata
        text_bytes = int(record.screening.get("text_bytes") or record.bytes)
        return {
            "request": body,
            "plan": plan,
            "reserve": text_bytes * int(plan["n_epochs"]),
        }

    def reserve_tokens(self, parsed: object) -> int:
        assert isinstance(parsed, dict)
        return int(parsed["reserve"])

    async def _create(self, call: Call) -> Outcome:
        parsed = call.parsed
        body: CreateJobRequest = parsed["request"]
        principal = call.principal
        assert principal is not None and principal.tier is not None
        job = await asyncio.to_thread(
            lambda: _store(self.g).create_job(
                owner=principal.owner,
                key_id=principal.id,
                tier=principal.tier.name if principal.tier else "",
                model=body.model,
                training_file=body.training_file,
                validation_file=body.validation_file,
                suffix=body.suffix,
                seed=body.seed if body.seed is not None else 0,
                hyperparameters=parsed["plan"],
                reserved_tokens=parsed["reserve"],
            )
        )
        return job_json(job), {"job_id": job.id, "reserved_tokens": parsed["reserve"]}

    async def execute(self, call: Call) -> Unary:
        result = await super().execute(call)
        result.used_tokens = int(call.parsed["reserve"])  # training tokens count on the quota
        return result


def create_job_route(g: Gateway) -> CreateJobRoute:
    """The handler of `POST /v1/fine_tuning/jobs`."""
    return CreateJobRoute(g)


def list_jobs_route(g: Gateway) -> FineTuneRoute:
    """The handler of `GET /v1/fine_tuning/jobs`."""

    async def run(call: Call) -> Outcome:
        q = call.parsed
        assert isinstance(q, JobListQuery)
        owner, _ = _who(call)
        jobs, more = await asyncio.to_thread(
            lambda: _store(g).list_jobs(owner, after=q.after, limit=q.limit)
        )
        return {"object": "list", "data": [job_json(j) for j in jobs], "has_more": more}, {}

    return FineTuneRoute(run)


def show_job_route(g: Gateway) -> FineTuneRoute:
    """The handler of `GET /v1/fine_tuning/jobs/{job_id}`."""

    async def run(call: Call) -> Outcome:
        owner, _ = _who(call)
        job_id = call.path_params["job_id"]
        job = await asyncio.to_thread(_store(g).get_job, job_id, owner)
        return job_json(job), {"job_id": job_id}

    return FineTuneRoute(run)


def job_events_route(g: Gateway) -> FineTuneRoute:
    """The handler of `GET /v1/fine_tuning/jobs/{job_id}/events`."""

    async def run(call: Call) -> Outcome:
        q = call.parsed
        assert isinstance(q, EventListQuery)
        owner, _ = _who(call)
        job_id = call.path_params["job_id"]
        after: int | None = None
        if q.after is not None:
            try:
                after = int(q.after.removeprefix("ftevent-"))
            except ValueError:
                raise bad_request("after: not an event id", param="after") from None
        events, more = await asyncio.to_thread(
            lambda: _store(g).events(job_id, owner, after=after, limit=q.limit)
        )
        body = {"object": "list", "data": [event_json(e) for e in events], "has_more": more}
        return body, {"job_id": job_id}

    return FineTuneRoute(run)


def cancel_job_route(g: Gateway) -> FineTuneRoute:
    """The handler of `POST /v1/fine_tuning/jobs/{job_id}/cancel`."""

    async def run(call: Call) -> Outcome:
        owner, key_id = _who(call)
        job_id = call.path_params["job_id"]
        job = await asyncio.to_thread(_store(g).cancel, job_id, owner, key_id)
        return job_json(job), {"job_id": job_id}

    return FineTuneRoute(run)


__all__ = [
    "cancel_job_route",
    "create_job_route",
    "delete_file_route",
    "event_json",
    "file_json",
    "job_events_route",
    "job_json",
    "list_files_route",
    "list_jobs_route",
    "show_file_route",
    "show_job_route",
    "upload_file_route",
]
