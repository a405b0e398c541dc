"""The names `releasegate.policy` and `releasegate.reports` export are exactly the intended ones."""

from __future__ import annotations

import releasegate.policy
import releasegate.reports


def test_policy_exports() -> None:
    assert {
        "ReleasePolicy",
        "load_policy",
        "decide",
        "decision_json_bytes",
        "Decision",
        "bundled_policy_path",
        "check_report",
        "schema_text",
        "decision_content_sha256",
    } <= set(releasegate.policy.__all__)
    for name in releasegate.policy.__all__:
        assert getattr(releasegate.policy, name) is not None


def test_reports_exports() -> None:
    assert set(releasegate.reports.__all__) == {
        "DECISION_FILES",
        "ChecklistItem",
        "Claim",
        "ReleaseView",
        "SafeguardCoverage",
        "SignatureLine",
        "TierLine",
        "checklist",
        "domain_chart",
        "render_all",
        "render_decision_html",
        "render_decision_md",
        "render_eu_checklist",
        "render_model_card",
    }
