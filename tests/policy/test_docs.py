"""The format docs say what the code does: metric names and the example decisions."""

from __future__ import annotations

import re
from pathlib import Path

from releasegate.evidence import example_report_path, load_report
from releasegate.policy import bundled_policy_path, decide, load_policy
from releasegate.vocab import Component

DOCS = Path(__file__).resolve().parents[2] / "docs"
POLICY = load_policy(bundled_policy_path())


def test_policy_format_lists_the_default_metrics() -> None:
    text = (DOCS / "policy-format.md").read_text(encoding="utf-8")
    section = text.split("## Metric names")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", section, re.M)
    assert {name: direction for name, direction in rows} == {
        name: spec.direction for name, spec in POLICY.metrics.items()
    }


def test_report_format_table_matches_the_example_decisions() -> None:
    text = (DOCS / "report-format.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([\w-]+)` \| (\w+) \| `(\w+)` \|", text, re.M)
    assert len(rows) == 4
    for name, status, weights in rows:
        decision = decide(load_report(example_report_path(name)), POLICY)
        assert (decision.status, decision.levels[Component.WEIGHTS].value) == (status, weights)
