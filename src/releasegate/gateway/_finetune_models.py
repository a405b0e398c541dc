"""Request and response bodies of the fine-tuning routes, in OpenAI's shapes (`/v1/files`,
`/v1/fine_tuning/jobs`), so the `openai` SDK's `files` and `fine_tuning.jobs` calls work
unchanged. Each response carries a `releasegate` field with what OpenAI has no place for (the
screening report of a file, the safety gate's numbers of a job)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from releasegate._util.wire import NonEmptyText, Text


class _Wire(BaseModel):
    # Unknown fields are ignored, as OpenAI's SDKs add optional fields over time.
    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)


class FileUploadRequest(BaseModel):
    """`POST /v1/files` (multipart/form-data, as the SDK's `files.create` sends it)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "purpose": "fine-tune",
                    "file": '{"messages": [{"role": "user", "content": "Hi"}, '
                    '{"role": "assistant", "content": "Hello!"}]}\n',
                    "filename": "train.jsonl",
                }
            ]
        },
    )

    purpose: Literal["fine-tune"] = Field(description="only fine-tune files are accepted")
    file: bytes = Field(
        description="the JSONL training file, one chat conversation per line",
        json_schema_extra={"format": "binary"},
    )
    filename: str = Field(default="file.jsonl", description="the file part's name")


class FileObject(BaseModel):
    """OpenAI's `file` object."""

    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["processed"] = "processed"
    status_details: str | None = None
    expires_at: int | None = None
    releasegate: dict[str, Any] = Field(
        default_factory=dict, description="screening: examples, flagged lines and categories"
    )


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]
    has_more: bool = False


class FileDeleted(BaseModel):
    id: str
    object: Literal["file"] = "file"
    deleted: bool


def _auto_kind(value: object) -> str:
    return "as-auto" if isinstance(value, str) else "as-number"


# Union tags are not identifiers, so error paths leave them out (see _validation.field_path).
AutoInt = Annotated[
    Annotated[Literal["auto"], Tag("as-auto")] | Annotated[int, Tag("as-number")],
    Discriminator(_auto_kind),
]
AutoFloat = Annotated[
    Annotated[Literal["auto"], Tag("as-auto")] | Annotated[float, Tag("as-number")],
    Discriminator(_auto_kind),
]


class Hyperparameters(_Wire):
    """OpenAI's hyperparameters; "auto" lets the gateway choose (bounded by the tier)."""

    n_epochs: AutoInt = Field(default="auto", description="1..10")
    batch_size: AutoInt = Field(default="auto", description="1..32")
    learning_rate_multiplier: AutoFloat = Field(
        default="auto", description="times the LoRA base learning rate (1e-3); 0 < m <= 10"
    )


class Method(_Wire):
    """OpenAI's `method`: only `supervised` (the default) is supported."""

    type: Literal["supervised"] = "supervised"
    supervised: dict[str, Any] | None = None


class CreateJobRequest(_Wire):
    """`POST /v1/fine_tuning/jobs`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "bundled:smollm2",
                    "training_file": "file-0123456789abcdef01234567",
                    "hyperparameters": {"n_epochs": 1, "batch_size": "auto"},
                    "suffix": "support-bot",
                }
            ]
        }
    )

    model: NonEmptyText = Field(description="the base model: the model this gateway serves")
    training_file: NonEmptyText = Field(description="a file id from POST /v1/files")
    validation_file: NonEmptyText | None = None
    hyperparameters: Hyperparameters | None = None
    suffix: Text | None = Field(default=None, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=2_147_483_647)
    metadata: dict[str, Text] | None = None
    method: Method | None = None


class JobError(BaseModel):
    code: str
    message: str
    param: str | None = None


class FineTuningJob(BaseModel):
    """OpenAI's `fine_tuning.job` object."""

    id: str
    object: Literal["fine_tuning.job"] = "fine_tuning.job"
    created_at: int
    error: JobError | None
    fine_tuned_model: str | None
    finished_at: int | None
    hyperparameters: dict[str, Any]
    model: str
    organization_id: str
    result_files: list[str] = Field(default_factory=list)
    seed: int
    status: Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
    trained_tokens: int | None
    training_file: str
    validation_file: str | None
    estimated_finish: int | None = None
    integrations: list[Any] | None = None
    metadata: dict[str, str] | None = None
    releasegate: dict[str, Any] = Field(
        default_factory=dict, description="the post-tune safety gate's numbers, the attempts"
    )


class JobListQuery(_Wire):
    """Query of `GET /v1/fine_tuning/jobs` (cursor pagination, newest first)."""

    model_config = ConfigDict(
        extra="ignore",
        strict=False,
        json_schema_extra={"examples": [{"after": "ftjob-0123456789abcdef01234567", "limit": 10}]},
    )

    after: Text | None = None
    limit: int = Field(default=20, ge=1, le=100)


class EventListQuery(_Wire):
    """Query of `GET /v1/fine_tuning/jobs/{job_id}/events` (`after`: an event id)."""

    model_config = ConfigDict(
        extra="ignore",
        strict=False,
        json_schema_extra={"examples": [{"after": "ftevent-12", "limit": 10}]},
    )

    after: Text | None = None
    limit: int = Field(default=20, ge=1, le=100)


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FineTuningJob]
    has_more: bool


class JobEvent(BaseModel):
    """OpenAI's `fine_tuning.job.event` object."""

    id: str
    object: Literal["fine_tuning.job.event"] = "fine_tuning.job.event"
    created_at: int
    level: Literal["info", "warn", "error"]
    message: str
    type: Literal["message", "metrics"] = "message"
    data: dict[str, Any] | None = None


class EventList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobEvent]
    has_more: bool


__all__ = [
    "CreateJobRequest",
    "EventList",
    "EventListQuery",
    "FileDeleted",
    "FileList",
    "FileObject",
    "FileUploadRequest",
    "FineTuningJob",
    "Hyperparameters",
    "JobEvent",
    "JobList",
    "JobListQuery",
]
