"""Renderers: a `Decision` as Markdown, self-contained HTML, a model card and a checklist."""

from releasegate.reports._chart import domain_chart
from releasegate.reports._eu_ai_act import ChecklistItem, checklist
from releasegate.reports._facts import Claim, SafeguardCoverage
from releasegate.reports._render import (
    DECISION_FILES,
    render_all,
    render_decision_html,
    render_decision_md,
    render_eu_checklist,
    render_model_card,
)

__all__ = [
    "DECISION_FILES",
    "ChecklistItem",
    "Claim",
    "SafeguardCoverage",
    "checklist",
    "domain_chart",
    "render_all",
    "render_decision_html",
    "render_decision_md",
    "render_eu_checklist",
    "render_model_card",
]
