"""Authorize a parsed request against the capabilities of the caller's tier (403 otherwise)."""

from __future__ import annotations

from releasegate.access._tiers import TierSpec
from releasegate.gateway._errors import bad_request, forbidden
from releasegate.gateway._protocol import ParsedRequest


def model_allowed(tier: TierSpec, model: str) -> bool:
    return "*" in tier.models or model in tier.models


def authorize(tier: TierSpec, req: ParsedRequest) -> None:
    """Refuse (403) anything the tier does not grant, naming the capability and the tier.

    Raises:
        ApiError: 403 `tier_lacks_capability`; 400 for a capability the tier grants but the
            gateway cannot serve (tools, logit_bias, n > 1 while streaming).
    """
    t = tier.name
    if not model_allowed(tier, req.model):
        raise forbidden(
            f"model {req.model!r} is not available to tier {t!r} (allowed: "
            f"{', '.join(tier.models)})",
            param="model",
        )
    p = req.params
    if p.max_tokens > tier.max_tokens:
        raise forbidden(
            f"max_tokens {p.max_tokens} exceeds tier {t!r}'s cap of {tier.max_tokens}",
            param="max_tokens",
        )
    if not tier.temperature_min <= p.temperature <= tier.temperature_max:
        raise forbidden(
            f"temperature {p.temperature} is outside tier {t!r}'s range "
            f"[{tier.temperature_min}, {tier.temperature_max}]",
            param="temperature",
        )
    if p.logprobs and not tier.logprobs:
        raise forbidden(f"tier {t!r} may not request logprobs", param="logprobs")
    if p.top_logprobs > tier.max_top_logprobs:
        raise forbidden(
            f"top_logprobs {p.top_logprobs} exceeds tier {t!r}'s maximum of "
            f"{tier.max_top_logprobs}",
            param="top_logprobs",
        )
    if req.logit_bias is not None:
        if not tier.logit_bias:
            raise forbidden(
                f"tier {t!r} may not use logit_bias (with logprobs it lets a client extract the "
                "model's output projection)",
                param="logit_bias",
            )
        raise bad_request(
            "logit_bias: not supported by this gateway's model backends",
            param="logit_bias",
            code="unsupported_parameter",
        )
    if req.n > tier.max_n:
        raise forbidden(f"n {req.n} exceeds tier {t!r}'s maximum of {tier.max_n}", param="n")
    if req.tools:
        if not tier.tools:
            raise forbidden(f"tier {t!r} may not use tools", param="tools")
        raise bad_request(
            "tools: not supported by this gateway's model backends",
            param="tools",
            code="unsupported_parameter",
        )
    if req.stream and req.n > 1:
        raise bad_request("n > 1 cannot be streamed; set stream to false", param="n")


def require(tier: TierSpec, capability: str) -> None:
    """Refuse (403) a route that needs a boolean tier capability (`research`, `fine_tuning`).

    The pipeline calls this for every row whose `requires` names a capability.
    """
    if not getattr(tier, capability, False):
        raise forbidden(f"tier {tier.name!r} has no {capability} access", param=None)


__all__ = ["authorize", "model_allowed", "require"]
