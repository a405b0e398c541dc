"""Render a `Decision` (with its report and policy) to the files a reviewer reads.

Templates are Jinja2 files shipped in the package (`reports/templates/`). Output is
deterministic: no timestamps but those of the signatures and triggers the `ReleaseView`
carries, stable ordering, so the same state gives identical bytes. The documents print the
decision's standing from its `ReleaseView` (status, signers, times, what is open); without one,
as just decided.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
import yaml
from markupsafe import Markup

from releasegate.evidence import RiskReport
from releasegate.policy import Decision, ReleasePolicy, ReleaseView, decision_json_bytes
from releasegate.reports._chart import TIER_COLOURS, domain_chart
from releasegate.reports._eu_ai_act import checklist
from releasegate.reports._facts import evidence_line, proxy_only_domains, safeguard_coverage
from releasegate.vocab import AccessLevel, Condition, Tier

DECISION_FILES = (
    "decision.json",
    "decision.md",
    "decision.html",
    "model-card.md",
    "eu-ai-act-checklist.md",
)


@lru_cache(maxsize=2)
def _env(html: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("releasegate.reports", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _md(text: Any) -> str:
    """Escape the characters that would break a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _context(
    decision: Decision, report: RiskReport, policy: ReleasePolicy, release: ReleaseView | None
) -> dict[str, Any]:
    matched = [t for t in decision.trace if t.matched]
    view = release or ReleaseView.just_decided(decision)
    return {
        "d": decision,
        "report": report,
        "policy": policy,
        "release": view,
        "conditions": list(Condition),
        "tiers": list(Tier),
        "levels": list(AccessLevel),
        "tier_colours": {t.value: c for t, c in TIER_COLOURS.items()},
        "matched": matched,
        "fmt": _fmt,
        "md": _md,
        "checklist": checklist(decision, report, policy, view),
        "coverage": safeguard_coverage(decision, policy, view),
        "evidence_lines": [evidence_line(e) for e in report.evidence],
        "proxy_domains": proxy_only_domains(decision),
        "safeguard_text": policy.safeguards,
    }


def render_decision_md(
    decision: Decision,
    report: RiskReport,
    policy: ReleasePolicy,
    release: ReleaseView | None = None,
) -> str:
    """`decision.md`: the decision, its standing and sign-off, its reasons, the full trace."""
    ctx = _context(decision, report, policy, release)
    return _env(False).get_template("decision.md.j2").render(ctx)


def render_decision_html(
    decision: Decision,
    report: RiskReport,
    policy: ReleasePolicy,
    release: ReleaseView | None = None,
) -> str:
    """`decision.html`: self-contained (inline CSS and SVG), with a chart per domain."""
    ctx = _context(decision, report, policy, release)
    ctx["charts"] = {
        d.domain: Markup(domain_chart(d, policy))  # built from escaped parts
        for d in decision.domains
    }
    return _env(True).get_template("decision.html.j2").render(ctx)


def render_model_card(
    decision: Decision,
    report: RiskReport,
    policy: ReleasePolicy,
    release: ReleaseView | None = None,
) -> str:
    """`model-card.md`: a Hugging Face model-card fragment (front matter + a release section),
    every claim from what is configured and evidenced."""
    ctx = _context(decision, report, policy, release)
    view: ReleaseView = ctx["release"]
    front = {
        "tags": ["releasegate"],
        "releasegate": {
            "decision_sha256": decision.content_sha256,
            "policy": f"{decision.policy_name}@{decision.policy_version}",
            "status": view.status,
            "reassessment_required": view.reassessment_required,
            "levels": {c.value: lvl.value for c, lvl in sorted(decision.levels.items())},
            "in_force": {c.value: lvl.value for c, lvl in sorted(view.in_force.items())},
        },
    }
    ctx["front_matter"] = yaml.safe_dump(front, sort_keys=True, allow_unicode=True).rstrip("\n")
    return _env(False).get_template("model-card.md.j2").render(ctx)


def render_eu_checklist(
    decision: Decision,
    report: RiskReport,
    policy: ReleasePolicy,
    release: ReleaseView | None = None,
) -> str:
    """`eu-ai-act-checklist.md`: Art. 53 and 55 obligations, covered (with evidence) and not."""
    ctx = _context(decision, report, policy, release)
    return _env(False).get_template("eu-ai-act-checklist.md.j2").render(ctx)


def render_all(
    decision: Decision,
    report: RiskReport,
    policy: ReleasePolicy,
    release: ReleaseView | None = None,
) -> dict[str, bytes]:
    """Every decision file (`DECISION_FILES`) as bytes, keyed by file name.

    Args:
        decision, report, policy: the decision and what it was made from.
        release: its standing now (status, signatures, what is open); default: just decided.
    """
    return {
        "decision.json": decision_json_bytes(decision),
        "decision.md": render_decision_md(decision, report, policy, release).encode(),
        "decision.html": render_decision_html(decision, report, policy, release).encode(),
        "model-card.md": render_model_card(decision, report, policy, release).encode(),
        "eu-ai-act-checklist.md": render_eu_checklist(decision, report, policy, release).encode(),
    }


__all__ = [
    "DECISION_FILES",
    "render_all",
    "render_decision_html",
    "render_decision_md",
    "render_eu_checklist",
    "render_model_card",
]
