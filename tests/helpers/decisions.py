"""Real decisions for the store tests: the bundled example reports under the default policy."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from releasegate.evidence import load_report
from releasegate.policy import Decision, bundled_policy_path, decide, load_policy
from tests.helpers.gateway import fresh

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "reports"


@cache
def example_decision(name: str = "low-risk", policy: str = "default") -> Decision:
    """The decision `decide` makes for examples/reports/NAME.json under a bundled policy."""
    report = fresh(load_report(EXAMPLES / f"{name}.json"))
    return decide(report, load_policy(bundled_policy_path(policy)))
