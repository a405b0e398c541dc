"""What the documents may claim, read from what is configured and evidenced, each claim with
its evidence; what nothing provides is said to be "not covered".

The model card and the EU AI Act checklist print these; they hold no claim of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from releasegate.evidence import EvidenceItem, RiskReport
from releasegate.policy import Decision, ReleasePolicy, ReleaseView, TierLine
from releasegate.vocab import Component


@dataclass(frozen=True)
class Claim:
    """A statement a document makes, with the evidence it rests on ("" : not covered)."""

    text: str
    evidence: str = ""
    covered: bool = True


@dataclass(frozen=True)
class SafeguardCoverage:
    """A required safeguard and what configuration, if any, provides it."""

    name: str
    description: str
    claims: list[Claim] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return any(c.covered for c in self.claims)


NOT_IMPLEMENTED = (
    "not covered: releasegate does not provide it; the release team must, and document how"
)


def _tiers(release: ReleaseView) -> list[TierLine]:
    return [t for t in release.tiers if t.allowed]


def _per_tier(
    release: ReleaseView,
    has: Callable[[TierLine], bool],
    say: Callable[[TierLine], str],
    fields: str,
    lacking: str,
) -> list[Claim]:
    if not release.tiers_evaluated:
        return [
            Claim(
                "not covered: the access tiers were not evaluated in this rendering", covered=False
            )
        ]
    tiers = _tiers(release)
    if not tiers:
        return [Claim("not covered: the decision allows no access tier", covered=False)]
    out = []
    for t in tiers:
        name = t.spec.name
        if has(t):
            out.append(Claim(f"tier {name}: {say(t)}", f"policy access_tiers.{name}.{fields}"))
        else:
            out.append(Claim(f"not covered for tier {name}: {lacking}", covered=False))
    return out


def _guards(release: ReleaseView) -> list[Claim]:
    return _per_tier(
        release,
        lambda t: bool(t.spec.guards),
        lambda t: (
            f"guards {', '.join(t.spec.guards)} judge every request and answer; a guard "
            "that fails refuses the request"
        ),
        "guards",
        "no guard is configured",
    )


def _rate_limits(release: ReleaseView) -> list[Claim]:
    return _per_tier(
        release,
        lambda t: t.spec.rpm is not None and t.spec.tpm is not None,
        lambda t: (
            f"{t.spec.rpm} requests and {t.spec.tpm} tokens per minute per key"
            + (f", {t.spec.daily_tokens} tokens per day" if t.spec.daily_tokens else "")
        ),
        "rpm/tpm/daily_tokens",
        "no per-minute request or token limit",
    )


def monitoring_claims(release: ReleaseView) -> list[Claim]:
    """How each allowed tier's keys are watched for misuse."""
    return _per_tier(
        release,
        lambda t: True,
        lambda t: (
            f"a key is suspended, with an incident, after {t.spec.flag_threshold} flagged "
            f"requests within {t.spec.flag_window_s} s (the gateway's misuse monitor)"
        ),
        "flag_threshold/flag_window_s",
        "",
    )


def _named(release: ReleaseView) -> list[Claim]:
    return _per_tier(
        release,
        lambda t: t.spec.named_users,
        lambda t: "keys only for named, agreement-bound users",
        "named_users",
        "open to any key holder",
    )


def _budgets(release: ReleaseView) -> list[Claim]:
    claims = _per_tier(
        release,
        lambda t: not t.spec.research or t.spec.extraction_budget is not None,
        lambda t: (
            f"research endpoints capped at {t.spec.extraction_budget} floats per key per day"
            if t.spec.research
            else "no research endpoints, so nothing to extract through them"
        ),
        "extraction_budget",
        "research endpoints without an extraction budget",
    )
    return claims


def _audit(release: ReleaseView) -> list[Claim]:
    if not release.tiers_evaluated or not _tiers(release):
        return [Claim("not covered: no tier is served through the gateway", covered=False)]
    return [
        Claim(
            "every request through the gateway, refusals included, is an audit record in a "
            "hash-chained, HMAC-signed log",
            "releasegate gateway pipeline (docs/audit.md); verify with `releasegate audit verify`",
        )
    ]


_PROVIDERS: dict[str, Callable[[ReleaseView], list[Claim]]] = {
    "input_guard": _guards,
    "output_guard": _guards,
    "rate_limits": _rate_limits,
    "misuse_monitoring": monitoring_claims,
    "named_users": _named,
    "extraction_budgets": _budgets,
    "audit_log": _audit,
}


def safeguard_coverage(
    decision: Decision, policy: ReleasePolicy, release: ReleaseView
) -> list[SafeguardCoverage]:
    """Each safeguard the decision requires for access to the model, and what provides it."""
    out = []
    for name in decision.required_safeguards.get(Component.WEIGHTS, []):
        provider = _PROVIDERS.get(name)
        claims = provider(release) if provider else [Claim(NOT_IMPLEMENTED, covered=False)]
        out.append(SafeguardCoverage(name, policy.safeguards.get(name, ""), claims))
    return out


def evidence_line(item: EvidenceItem) -> str:
    """One evidence item as the documents cite it."""
    scope = f"{item.domain} " if item.domain else ""
    return (
        f"`{item.id}`: {scope}{item.metric} under {item.condition.value} = {item.value:.4g} "
        f"(n={item.n}, {item.evidence_kind}"
        + (f", log sha256 {item.log_sha256[:12]}…" if item.log_sha256 else "")
        + ")"
    )


def proxy_only_domains(decision: Decision) -> list[str]:
    """Domains whose capability evidence is all demonstration proxies."""
    out = []
    for domain in decision.domains:
        kinds = {
            k
            for r in domain.readings
            if r.role == "capability" and r.tier is not None
            for k in r.evidence_kinds
        }
        if kinds == {"demonstration_proxy"}:
            out.append(domain.domain)
    return out


def evidence_ids(report: RiskReport, predicate: Callable[[EvidenceItem], bool]) -> list[str]:
    return [e.id for e in report.evidence if predicate(e)]


__all__ = [
    "NOT_IMPLEMENTED",
    "Claim",
    "SafeguardCoverage",
    "evidence_ids",
    "evidence_line",
    "monitoring_claims",
    "proxy_only_domains",
    "safeguard_coverage",
]
