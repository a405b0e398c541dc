"""Request and response bodies of the admin routes (keys, incidents).

Requests are strict and refuse unknown fields: an admin typo (`"teir"`) is a 400 naming the
field, never a key created with defaults.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from releasegate._util.wire import NonEmptyText, Text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class KeyLimitsBody(_Strict):
    """Per-key overrides of the tier's quotas (each at most the tier's own)."""

    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    daily_tokens: int | None = Field(default=None, ge=1)


class CreateKeyRequest(_Strict):
    """`POST /admin/keys`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tier": "public",
                    "owner": "alice@example.org",
                    "expires_at": "2027-01-01T00:00:00+00:00",
                    "limits": {"rpm": 10},
                }
            ]
        }
    )

    tier: NonEmptyText = Field(description="one of the tiers this gateway offers")
    owner: NonEmptyText = Field(description="who the key belongs to")
    expires_at: AwareDatetime | None = Field(
        default=None, description="ISO 8601 time with a timezone; none: never expires"
    )
    limits: KeyLimitsBody | None = None


class SuspendKeyRequest(_Strict):
    """`POST /admin/keys/{key_id}/suspend` (the body may be empty)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "shared in a forum"}]})

    reason: NonEmptyText = "suspended by an admin"


class KeyLimitsOut(BaseModel):
    rpm: int | None
    tpm: int | None
    daily_tokens: int | None


class Key(BaseModel):
    """A key's record (never the key itself)."""

    id: str
    prefix: str
    tier: str
    owner: str
    status: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    suspended_reason: str | None
    rotated_from: str | None
    limits: KeyLimitsOut


class KeyCreated(Key):
    """A new key: `key` is the plaintext, shown this once."""

    key: str


class KeyList(BaseModel):
    object: Literal["list"]
    data: list[Key]


class IncidentQuery(BaseModel):
    """`GET /admin/incidents` query string."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "open", "key_id": "k-1"}]}
    )

    status: Literal["open", "resolved"] | None = None
    key_id: Text | None = None


class ResolveIncidentRequest(_Strict):
    """`POST /admin/incidents/{incident_id}/resolve`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"by": "oncall@example.org", "note": "false positive", "unsuspend": True}]
        }
    )

    by: NonEmptyText = Field(
        description="who resolves the incident (a principal token's own name replaces it)"
    )
    note: Text | None = None
    unsuspend: bool = Field(default=False, description="also lift the key's suspension")


class IncidentOut(BaseModel):
    """An incident: a key crossed its tier's flag threshold."""

    id: str
    key_id: str
    tier: str
    status: Literal["open", "resolved"]
    window_start: datetime
    window_end: datetime
    flag_count: int
    categories: list[str]
    audit_seqs: list[int]
    trigger_seq: int
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None


class IncidentList(BaseModel):
    object: Literal["list"]
    data: list[IncidentOut]


__all__ = [
    "CreateKeyRequest",
    "IncidentList",
    "IncidentOut",
    "IncidentQuery",
    "Key",
    "KeyCreated",
    "KeyList",
    "ResolveIncidentRequest",
    "SuspendKeyRequest",
]
