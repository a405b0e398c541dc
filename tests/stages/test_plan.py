"""`StagePlan` loading: structure, errors by line naming the stage, and no stage that opens
more than the decision allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasegate.access import DEFAULT_TIERS
from releasegate.errors import InputError
from releasegate.stages import load_plan
from releasegate.vocab import AccessLevel
from tests.helpers.gateway import decision_at
from tests.helpers.stages import plan_file

ROOT = Path(__file__).resolve().parents[2]


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("name", ["smollm2.yaml", "ladder.yaml"])
def test_the_shipped_plans_load(name: str) -> None:
    plan = load_plan(ROOT / "policies" / "stages" / name)
    assert len(plan.stages) >= 2 and plan.rollback_triggers


def test_the_ladder_fits_a_gated_weights_decision_and_not_an_api_one() -> None:
    path = ROOT / "policies" / "stages" / "ladder.yaml"
    load_plan(path, decision=decision_at(AccessLevel.GATED_WEIGHTS), tiers=DEFAULT_TIERS)
    with pytest.raises(InputError) as err:
        load_plan(path, decision=decision_at(AccessLevel.API), tiers=DEFAULT_TIERS)
    text = str(err.value)
    # Each offending stage is named, with its line; the API-level stages are not.
    assert "stage 'red_team' opens tier 'auditor'" in text
    assert "stage 'gated_weights' opens weights at 'gated_weights'" in text
    assert "'developers' opens tier 'developer'" not in text
    source = path.read_text()
    assert f"{path}:{_line_of(source, 'levels: {weights: gated_weights}')}:" in text


def test_structure_problems_name_the_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "name: p\n"
        "stages:\n"
        "  - name: one\n"
        "    tiers: [public]\n"
        "    gate: {min_days_in_previous: 3}\n"
        "  - name: one\n"
        "    tiers: [public]\n"
        "    gate:\n"
        "      signoffs: {roles: [a], required: 2}\n"
        "rollback_triggers:\n"
        "  - {id: t, kind: incident, to: nowhere}\n"
        "  - {id: g, kind: guard_failure_rate, to: one}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as err:
        load_plan(path)
    text = str(err.value)
    assert f"{path}:12: rollback_triggers[1]" in text and "needs `above`" in text
    path.write_text(
        path.read_text().replace("guard_failure_rate, to", "guard_failure_rate, above: 0.1, to")
    )
    with pytest.raises(InputError) as err:
        load_plan(path)
    text = str(err.value)
    assert f"{path}:5: stages[0].gate.min_days_in_previous" in text
    assert f"{path}:6: stages[1].name: duplicate stage name 'one'" in text
    assert "2 sign-offs required but only 1 role(s)" in text
    assert f"{path}:11: rollback_triggers[0].to" in text and "'nowhere'" in text


def test_unknown_fields_and_bad_yaml(tmp_path: Path) -> None:
    bad = plan_file(tmp_path / "p.yaml", {"name": "p", "stages": [{"name": "a", "tier": ["x"]}]})
    with pytest.raises(InputError, match=r"stages\[0\]\.tier: unknown field"):
        load_plan(bad)
    bad.write_text("name: [\n")
    with pytest.raises(InputError, match="malformed YAML"):
        load_plan(bad)
    with pytest.raises(InputError, match="file not found"):
        load_plan(tmp_path / "missing.yaml")


def test_the_bundled_plan_is_the_repo_copy() -> None:
    from releasegate.stages import bundled_plan_path

    shipped = bundled_plan_path("smollm2").read_text()
    assert shipped == (ROOT / "policies" / "stages" / "smollm2.yaml").read_text()
