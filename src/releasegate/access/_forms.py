"""What a tier asks of applicants, and how their applications are reviewed.

A tier opens to applications by declaring `application:` in the policy's `access_tiers`:

    researcher:
      name: researcher
      application:
        fields:                       # default: affiliation, intended_use, country
          - {name: affiliation, type: text}
          - {name: intended_use, type: text, max_length: 4000}
          - {name: country, type: country}
          - {name: publications, type: text, required: false}
        review:
          reviewers: 2                # approvals needed ...
          role: reviewer              # ... from principals holding this role
          blocked_countries: [KP]     # auto-deny (reason category blocked_country)
          deny_if_missing: [publications]   # auto-deny (missing_information)
        key_days: 90                  # the issued key's lifetime

`auto_approve_email_domains` approves at once an applicant whose e-mail is at one of the
domains; it is allowed only for tiers that need no more than the `api` level (never for a tier
with research, logprobs or fine-tuning access).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from releasegate.errors import Problem

FieldType = Literal["text", "email", "url", "country", "choice", "bool"]
ROLE_NAMES = ("admin", "reviewer", "release_lead", "safety_lead", "auditor")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


class FormField(BaseModel):
    """One question of a tier's application form."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="the answer's key (lower-case letters, digits, _)")
    type: FieldType = "text"
    required: bool = True
    label: str = ""
    choices: list[str] | None = Field(default=None, description="the allowed answers (choice)")
    max_length: int = Field(default=2000, ge=1, le=20_000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("lower-case letters, digits and _, starting with a letter")
        return value

    @model_validator(mode="after")
    def _choices(self) -> FormField:
        if (self.type == "choice") != bool(self.choices):
            raise ValueError("choices are given for, and only for, a field of type choice")
        return self


def default_fields() -> list[FormField]:
    return [
        FormField(name="affiliation", label="Organisation or institution"),
        FormField(name="intended_use", label="What you will use access for", max_length=4000),
        FormField(name="country", type="country", label="Country (ISO 3166 alpha-2)"),
    ]


class ReviewRule(BaseModel):
    """How a tier's applications are decided."""

    model_config = ConfigDict(extra="forbid")

    reviewers: int = Field(default=1, ge=1, le=10, description="approvals needed")
    role: str = Field(default="reviewer", description="the role whose approvals count")
    blocked_countries: list[str] = Field(default_factory=list, description="auto-deny these")
    deny_if_missing: list[str] = Field(
        default_factory=list, description="optional fields whose absence auto-denies"
    )
    auto_approve_email_domains: list[str] = Field(
        default_factory=list, description="approve at once (tiers at the api level or below)"
    )

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ROLE_NAMES:
            raise ValueError(f"one of {', '.join(ROLE_NAMES)}")
        return value

    @field_validator("blocked_countries")
    @classmethod
    def _countries(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not _COUNTRY.match(c)]
        if bad:
            raise ValueError(f"ISO 3166 alpha-2 codes (GB, US...), not {bad}")
        return value

    @field_validator("auto_approve_email_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [d.lower().lstrip("@") for d in value]


class ApplicationSpec(BaseModel):
    """A tier's application form, review rule and key lifetime."""

    model_config = ConfigDict(extra="forbid")

    fields: list[FormField] = Field(default_factory=default_fields)
    review: ReviewRule = Field(default_factory=ReviewRule)
    key_days: float = Field(default=90, gt=0, le=3650, description="lifetime of issued keys")
    max_answers_bytes: int = Field(default=16_384, ge=256, le=1_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> ApplicationSpec:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("two fields share a name")
        unknown = [n for n in self.review.deny_if_missing if n not in names]
        if unknown:
            raise ValueError(f"review.deny_if_missing names no field of the form: {unknown}")
        return self

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)

    def check_answers(self, answers: dict[str, object]) -> list[Problem]:
        """Every way `answers` fail the form, each at `answers.<field>` (empty: they pass).

        A missing required field, an unknown field, a wrong type, a value too long, a choice
        not offered, a malformed country or e-mail are problems; a blocked country or an
        optional field the review rule wants are not (they deny the application instead).
        """
        problems: list[Problem] = []
        for name in answers:
            if self.field(name) is None:
                problems.append(Problem("not a field of this tier's form", f"answers.{name}"))
        for spec in self.fields:
            value = answers.get(spec.name)
            loc = f"answers.{spec.name}"
            if value is None or value == "":
                if spec.required:
                    problems.append(Problem("required", loc))
                continue
            if spec.type == "bool":
                if not isinstance(value, bool):
                    problems.append(Problem("must be true or false", loc))
                continue
            if not isinstance(value, str):
                problems.append(Problem("must be a string", loc))
                continue
            if len(value) > spec.max_length:
                problems.append(Problem(f"longer than {spec.max_length} characters", loc))
            elif "\x00" in value:
                problems.append(Problem("must not contain NUL characters", loc))
            elif spec.type == "country" and not _COUNTRY.match(value):
                problems.append(Problem("an ISO 3166 alpha-2 code such as GB or US", loc))
            elif spec.type == "email" and not _EMAIL.match(value):
                problems.append(Problem("not an e-mail address", loc))
            elif spec.type == "url" and not re.match(r"^https?://\S+$", value):
                problems.append(Problem("an http(s) URL", loc))
            elif spec.type == "choice" and value not in (spec.choices or []):
                problems.append(Problem(f"one of {', '.join(spec.choices or [])}", loc))
        return problems


def valid_email(value: str) -> bool:
    """A plausible e-mail address (one @, a dotted domain); no mail is sent to check it."""
    return bool(_EMAIL.match(value))


__all__ = [
    "ApplicationSpec",
    "FieldType",
    "FormField",
    "ReviewRule",
    "default_fields",
    "valid_email",
]
