"""Request and response bodies of the access programme's routes: principals (admin), the
applications applicants file and reviewers decide, claims, renewals and tier terms.

Requests refuse unknown fields; text fields refuse NUL and have length caps, so an oversized or
malformed application is a 400 naming the field before anything is written.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from releasegate._util.wire import NonEmptyText, Text

RoleName = Literal["admin", "reviewer", "release_lead", "safety_lead", "auditor", "applicant"]
Category = Literal[
    "blocked_country",
    "missing_information",
    "ineligible",
    "insufficient_justification",
    "policy",
    "other",
]


def _answer(value: Any) -> str | bool | None:
    # One validator rather than a union, so an error names the answer (`answers.country`),
    # not a union member.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("nul_character", "must not contain NUL characters (U+0000)")
        return value
    raise PydanticCustomError("answer_type", "must be a string, true or false, or null")


Answer = Annotated[
    Any,
    PlainValidator(_answer),
    WithJsonSchema({"type": ["string", "boolean", "null"], "maxLength": 20_000}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# -- principals ----------------------------------------------------------------------------------


class CreatePrincipalRequest(_Strict):
    """`POST /admin/principals`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Ada Reviewer", "roles": ["reviewer"]}]}
    )

    name: NonEmptyText = Field(max_length=200, description="unique (case-insensitive)")
    roles: list[RoleName] = Field(min_length=1, max_length=6)
    kind: Literal["person", "service"] = "person"
    email: Text | None = Field(default=None, max_length=320)


class PrincipalOut(BaseModel):
    """A principal (never a token)."""

    id: str
    name: str
    kind: str
    email: str | None
    roles: list[str]
    created_at: str
    created_by: str
    suspended_at: str | None
    suspended_by: str | None
    suspended_reason: str | None


class PrincipalCreated(PrincipalOut):
    """A new principal or token: `token` is shown this once."""

    token: str | None
    token_id: str | None = None


class TokenOut(BaseModel):
    """A principal's token as stored (never the token)."""

    id: str
    prefix: str
    created_at: str
    revoked_at: str | None


class TokenList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TokenOut]


class PrincipalList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PrincipalOut]


class SetRolesRequest(_Strict):
    """`POST /admin/principals/{principal_id}/roles`: the principal's roles from now on."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"roles": ["reviewer", "safety_lead"]}]},
    )

    roles: list[RoleName] = Field(min_length=1, max_length=6)


class SuspendPrincipalRequest(_Strict):
    """`POST /admin/principals/{principal_id}/suspend`."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"reason": "shared their key publicly"}]},
    )

    reason: NonEmptyText = Field(max_length=2000)


# -- applications --------------------------------------------------------------------------------


class ApplicationRequest(_Strict):
    """`POST /v1/access/applications`: the answers are checked against the tier's form."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "tier": "researcher",
                    "name": "Ada Lovelace",
                    "email": "ada@uni.example",
                    "answers": {
                        "affiliation": "University of Example",
                        "intended_use": "measuring refusal robustness",
                        "country": "GB",
                    },
                    "accept_terms_version": "1",
                }
            ]
        },
    )

    tier: NonEmptyText = Field(max_length=100)
    name: NonEmptyText = Field(max_length=200)
    email: NonEmptyText = Field(max_length=320)
    answers: dict[str, Answer] = Field(default_factory=dict, max_length=50)
    accept_terms_version: Text | None = Field(
        default=None, max_length=64, description="the version of the tier's terms you accept"
    )


class RenewRequest(_Strict):
    """`POST /v1/access/applications/{application_id}/renew`: answers that changed since."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {"answers": {"intended_use": "a follow-up study"}, "accept_terms_version": "2"}
            ]
        },
    )

    answers: dict[str, Answer] = Field(default_factory=dict, max_length=50)
    accept_terms_version: Text | None = Field(default=None, max_length=64)


class ApplicationStatusOut(BaseModel):
    """An application as its applicant sees it."""

    id: str
    tier: str
    status: Literal["pending", "approved", "denied"]
    created_at: str
    decided_at: str | None
    denial_category: str | None
    claimable: bool
    claimed_at: str | None
    key_expires_at: str | None
    renewal_of: str | None


class ApplicationSubmitted(ApplicationStatusOut):
    """A filed application: keep `claim_token` (shown this once) to see its status and claim."""

    claim_token: str


class ReviewOut(BaseModel):
    reviewer_id: str
    reviewer: str
    verdict: Literal["comment", "approve", "deny"]
    text: str
    created_at: str


class ApplicationOut(ApplicationStatusOut):
    """An application as reviewers see it."""

    name: str
    email: str
    answers: dict[str, Answer]
    terms_version: str | None
    decided_by: str | None
    denial_reason: str | None
    key_id: str | None
    principal_id: str | None
    approvals: int
    approvals_needed: int
    reviews: list[ReviewOut]


class ApplicationList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ApplicationOut]


class ApplicationQuery(_Strict):
    """`GET /admin/access/applications` filters."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"status": "pending", "tier": "researcher"}]},
    )

    status: Literal["pending", "approved", "denied"] | None = None
    tier: Text | None = Field(default=None, max_length=100)


class CommentRequest(_Strict):
    """A reviewer's comment."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [{"text": "affiliation checked against the university directory"}]
        },
    )
    text: NonEmptyText = Field(max_length=4000)


class ApproveRequest(_Strict):
    """An approval (the body may be empty)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"reason": "affiliation and use verified"}]},
    )
    reason: Text = Field(default="", max_length=4000)


class DenyRequest(_Strict):
    """A denial: the applicant sees `category`; `reason` stays with the reviewers."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {"category": "ineligible", "reason": "no affiliation with a research body"}
            ]
        },
    )

    category: Category
    reason: NonEmptyText = Field(max_length=4000)


class KeyClaimed(BaseModel):
    """The key of an approved application: `key` is shown this once."""

    key: str
    key_id: str
    tier: str
    expires_at: str | None
    principal_id: str
    application_id: str


# -- tiers and terms -----------------------------------------------------------------------------


class FormFieldOut(BaseModel):
    name: str
    type: str
    required: bool
    label: str
    choices: list[str] | None
    max_length: int


class TermsOut(BaseModel):
    tier: str
    version: str
    url: str
    text_sha256: str | None
    published_at: str
    published_by: str


class ApplicableTier(BaseModel):
    """A tier that takes applications: its form, its rule's public parts, its terms."""

    name: str
    description: str
    open: bool
    fields: list[FormFieldOut]
    reviewers: int
    key_days: float
    terms: TermsOut | None


class ApplicableTierList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ApplicableTier]


class PublishTermsRequest(_Strict):
    """`POST /admin/access/terms/{tier}`: a new version every key holder must accept."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"version": "2", "url": "https://example.org/terms/researcher/2"}]
        },
    )

    version: NonEmptyText = Field(max_length=64)
    url: NonEmptyText = Field(max_length=2000, description="an http(s) URL")
    text_sha256: Text | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class AcceptTermsRequest(_Strict):
    """`POST /v1/access/terms/{tier}/accept` (with the key)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        allow_inf_nan=False,
        json_schema_extra={"examples": [{"version": "2"}]},
    )

    version: NonEmptyText = Field(max_length=64)
