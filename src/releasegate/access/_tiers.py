"""Access tiers: what each class of key may do through the gateway.

A tier's capabilities imply a minimum access level of the `weights` component: any API use needs
`api` (or `hosted`, for a tier of named users only); logprobs, research endpoints and fine-tuning
need `research_api` (MISSION.md). The gateway
refuses to start with a tier that is more open than the decision allows.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from releasegate.access._forms import ApplicationSpec
from releasegate.vocab import AccessLevel


class TierSpec(BaseModel):
    """The capabilities and limits of one access tier."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    models: list[str] = Field(default_factory=lambda: ["*"], description="model names, or '*'")
    max_tokens: int = Field(default=512, ge=1, description="cap on max_tokens per request")
    temperature_min: float = Field(default=0.0, ge=0.0, le=2.0)
    temperature_max: float = Field(default=1.5, ge=0.0, le=2.0)
    logprobs: bool = Field(default=False, description="may request logprobs")
    max_top_logprobs: int = Field(default=0, ge=0, le=20)
    # Logit bias together with logprobs lets a client recover the output projection
    # (Carlini et al. 2024, "Stealing Part of a Production Language Model"): off by default.
    logit_bias: bool = False
    max_n: int = Field(default=1, ge=1)
    tools: bool = False
    named_users: bool = Field(
        default=False,
        description="keys only for named, agreement-bound people: the `hosted` level, the one "
        "tier a decision at `hosted` lets the gateway serve",
    )
    research: bool = Field(default=False, description="research endpoints (hidden states...)")
    fine_tuning: bool = Field(
        default=False, description="fine-tuning through the API (/v1/files, /v1/fine_tuning)"
    )
    fine_tuning_max_file_bytes: int = Field(
        default=512_000, ge=1, description="largest training file a key of this tier may upload"
    )
    fine_tuning_max_examples: int = Field(
        default=1_000, ge=1, description="most examples (JSONL lines) in one training file"
    )
    fine_tuning_blocked_categories: list[str] = Field(
        default_factory=lambda: ["S1", "S2", "S3", "S4", "S9"],
        description="hazard categories (S1..S14) of which a single flagged example rejects a "
        "training file",
    )
    fine_tuning_max_flagged_fraction: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="a training file with more flagged examples than this share is rejected",
    )
    fine_tuning_max_steps: int = Field(
        default=50, ge=1, description="most optimizer steps (epochs x batches) one job may run"
    )
    rpm: int | None = Field(default=60, ge=1, description="requests per minute; None: unlimited")
    tpm: int | None = Field(default=20_000, ge=1, description="tokens per minute")
    daily_tokens: int | None = Field(default=200_000, ge=1, description="tokens per day")
    extraction_budget: int | None = Field(
        default=None, ge=0, description="floats per day the research endpoints may return"
    )
    guards: list[str] = Field(
        default_factory=lambda: ["default"], description="guard names applied to this tier"
    )
    flag_threshold: int = Field(
        default=5, ge=1, description="flagged requests in the window that suspend a key"
    )
    flag_window_s: int = Field(default=3600, ge=1)
    application: ApplicationSpec | None = Field(
        default=None,
        description="the tier's application form and review rule; None: keys only by hand",
    )
    invisible_text: Literal["strip", "refuse"] = Field(
        default="strip",
        description="characters a reader does not see (zero-width, bidi, Unicode tags, control "
        "characters): 'strip' forwards the visible text the guards judged, 'refuse' answers 400 "
        "invisible_text",
    )
    guard_max_chars: int | None = Field(
        default=32_000,
        ge=1,
        description="characters of request text the input guards score per request; above it "
        "413 guard_input_too_large (the guards' cost is bounded); None: no cap",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TierSpec:
        if self.temperature_min > self.temperature_max:
            raise ValueError("temperature_min is above temperature_max")
        if self.max_top_logprobs and not self.logprobs:
            raise ValueError("max_top_logprobs is set but logprobs is off")
        known = {f"S{i}" for i in range(1, 15)}
        unknown = [c for c in self.fine_tuning_blocked_categories if c not in known]
        if unknown:
            raise ValueError(f"fine_tuning_blocked_categories: unknown categories {unknown}")
        if (
            self.application is not None
            and self.application.review.auto_approve_email_domains
            and self.required_weights_level() > AccessLevel.API
        ):
            raise ValueError(
                "application.review.auto_approve_email_domains: only for tiers at the api level "
                "or below (this tier needs vetted access)"
            )
        return self

    @model_serializer(mode="wrap")
    def _drop_unset_application(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A tier without an application form serialises as it did before forms existed, so the
        # hashes of existing policies and decisions do not move.
        data: dict[str, Any] = handler(self)
        if data.get("application", 0) is None:
            del data["application"]
        return data

    def required_weights_level(self) -> AccessLevel:
        """The least open `weights` level at which this tier may be offered."""
        if self.research or self.fine_tuning or self.logprobs or self.logit_bias:
            return AccessLevel.RESEARCH_API
        if self.named_users:
            return AccessLevel.HOSTED
        return AccessLevel.API


DEFAULT_TIERS: dict[str, TierSpec] = {
    "public": TierSpec(
        name="public",
        description="anyone with a key",
        max_tokens=256,
        rpm=20,
        tpm=5_000,
        daily_tokens=50_000,
    ),
    "developer": TierSpec(
        name="developer",
        description="approved application developers",
        max_tokens=1024,
        max_n=4,
        tools=True,
        rpm=120,
        tpm=60_000,
        daily_tokens=1_000_000,
    ),
    "researcher": TierSpec(
        name="researcher",
        description="vetted researchers: logprobs and research endpoints",
        max_tokens=1024,
        logprobs=True,
        max_top_logprobs=5,
        research=True,
        fine_tuning=True,
        rpm=120,
        tpm=60_000,
        daily_tokens=1_000_000,
        extraction_budget=5_000_000,
        flag_threshold=20,
    ),
    "auditor": TierSpec(
        name="auditor",
        description="third-party auditors and red-teamers",
        max_tokens=2048,
        logprobs=True,
        max_top_logprobs=20,
        max_n=8,
        research=True,
        rpm=600,
        tpm=200_000,
        daily_tokens=5_000_000,
        extraction_budget=20_000_000,
        flag_threshold=1_000,
    ),
}
