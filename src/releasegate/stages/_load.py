"""Load a `StagePlan` and check what the types alone cannot: names, order, references, and
that no stage opens more than the decision allows (each problem names the stage and line)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from releasegate._util.load import (
    Loc,
    _line_for,
    _problems_from,
    format_loc,
    parse_document,
    read_document,
)
from releasegate.access._tiers import TierSpec
from releasegate.approvals._allowed import check_tiers
from releasegate.errors import InputError, Problem
from releasegate.policy._decision import Decision
from releasegate.stages._model import Stage, StagePlan
from releasegate.vocab import AccessLevel, Component

# Gate items that look back at the previous stage: the first stage has none to look at.
_LOOKS_BACK = ("min_days_in_previous", "max_incidents", "evidence")


BUNDLED_PLANS = ("smollm2",)


def bundled_plan_path(name: str = "smollm2") -> Path:
    """Path of a stage plan shipped inside the package (`smollm2`: the demo's, a copy of
    policies/stages/smollm2.yaml)."""
    if name not in BUNDLED_PLANS:
        raise ValueError(f"no bundled stage plan {name!r}; choose from {', '.join(BUNDLED_PLANS)}")
    return Path(str(resources.files("releasegate.stages") / "_bundled" / f"{name}.yaml"))


def _problem(message: str, loc: Loc, lines: Mapping[Loc, int]) -> Problem:
    return Problem(message, path=format_loc(loc), line=_line_for(loc, dict(lines)))


def check_structure(plan: StagePlan, lines: Mapping[Loc, int] | None = None) -> list[Problem]:
    """Problems of a plan that type-checked: duplicate names, unknown stages, gates that look
    back from the first stage, an N-of-M with N above M."""
    lines = lines or {}
    out: list[Problem] = []
    seen: dict[str, int] = {}
    for i, stage in enumerate(plan.stages):
        if stage.name in seen:
            out.append(
                _problem(
                    f"duplicate stage name {stage.name!r} (first at stages[{seen[stage.name]}])",
                    ("stages", i, "name"),
                    lines,
                )
            )
        seen.setdefault(stage.name, i)
        if i == 0:
            for item in _LOOKS_BACK:
                if getattr(stage.gate, item):
                    out.append(
                        _problem(
                            f"stage {stage.name!r} is the first stage: its gate cannot ask for "
                            f"{item} (there is no previous stage)",
                            ("stages", i, "gate", item),
                            lines,
                        )
                    )
        signoffs = stage.gate.signoffs
        if signoffs is not None and signoffs.required > len(set(signoffs.roles)):
            out.append(
                _problem(
                    f"stage {stage.name!r}: {signoffs.required} sign-offs required but only "
                    f"{len(set(signoffs.roles))} role(s) named",
                    ("stages", i, "gate", "signoffs", "required"),
                    lines,
                )
            )
        if not stage.tiers and not stage.levels:
            out.append(
                _problem(
                    f"stage {stage.name!r} opens nothing: name its tiers (or levels)",
                    ("stages", i),
                    lines,
                )
            )
    ids: set[str] = set()
    for i, trigger in enumerate(plan.rollback_triggers):
        if trigger.id in ids:
            out.append(
                _problem(
                    f"duplicate trigger id {trigger.id!r}", ("rollback_triggers", i, "id"), lines
                )
            )
        ids.add(trigger.id)
        if trigger.to not in seen:
            out.append(
                _problem(
                    f"trigger {trigger.id!r} steps back to {trigger.to!r}, which is not a stage "
                    f"(stages: {', '.join(plan.names())})",
                    ("rollback_triggers", i, "to"),
                    lines,
                )
            )
    return out


def stage_excess(
    stage: Stage,
    allowed: Mapping[Component, AccessLevel],
    decision: Decision,
    tiers: Mapping[str, TierSpec],
    *,
    open_tiers: set[str] | None = None,
) -> list[tuple[str, str]]:
    """Every way `stage` opens more than allowed: `(field, message)` pairs.

    Args:
        stage: the stage.
        allowed: the most open level of each component (the decision's, or those in force).
        decision: the decision (its safeguards and halt apply to each tier).
        tiers: the tiers offered (a stage's tiers must be among them).
        open_tiers: the tiers open now (`open_now`); None: judge by the decision alone.
    """
    out: list[tuple[str, str]] = []
    levels = dict(decision.levels)
    levels.update(allowed)
    in_force = decision.model_copy(update={"levels": levels})
    for j, name in enumerate(stage.tiers):
        spec = tiers.get(name)
        if spec is None:
            out.append(
                (
                    f"tiers[{j}]",
                    f"stage {stage.name!r} opens tier {name!r}, which is not offered "
                    f"(tiers: {', '.join(sorted(tiers))})",
                )
            )
            continue
        violations = check_tiers(in_force, {name: spec})
        if violations:
            out.append(
                (
                    f"tiers[{j}]",
                    f"stage {stage.name!r} opens tier {name!r}, which the decision does not "
                    f"allow: {violations[0].message} [rule: {violations[0].rule}]",
                )
            )
        elif open_tiers is not None and name not in open_tiers:
            out.append(
                (
                    f"tiers[{j}]",
                    f"stage {stage.name!r} opens tier {name!r}, which is closed now",
                )
            )
    for component, level in stage.levels.items():
        most = levels.get(component, AccessLevel.CLOSED)
        if level.rank > most.rank:
            out.append(
                (
                    f"levels.{component.value}",
                    f"stage {stage.name!r} opens {component.value} at {level.value!r} but the "
                    f"decision allows at most {most.value!r}",
                )
            )
    return out


def check_against_decision(
    plan: StagePlan,
    decision: Decision,
    tiers: Mapping[str, TierSpec],
    lines: Mapping[Loc, int] | None = None,
) -> list[Problem]:
    """Each stage that opens more than `decision` allows (a tier it forbids or does not
    offer, a component level above the decided one), naming the stage."""
    lines = lines or {}
    out: list[Problem] = []
    for i, stage in enumerate(plan.stages):
        for where, message in stage_excess(stage, decision.levels, decision, tiers):
            head, _, rest = where.partition(".")
            loc: Loc = ("stages", i, *_split(head), *([rest] if rest else []))
            out.append(_problem(message, loc, lines))
    return out


def _split(part: str) -> Loc:
    name, _, index = part.partition("[")
    return (name, int(index.rstrip("]"))) if index else (name,)


def parse_plan(
    data: Any,
    source: str,
    lines: Mapping[Loc, int] | None = None,
    *,
    decision: Decision | None = None,
    tiers: Mapping[str, TierSpec] | None = None,
) -> StagePlan:
    """Validate parsed plan data by type and meaning (and against `decision`, when given).

    Raises:
        InputError: every problem found, each with its field path and line.
    """
    lines = lines or {}
    try:
        plan = StagePlan.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, _problems_from(exc, dict(lines))) from exc
    problems = check_structure(plan, lines)
    if decision is not None and not problems:
        problems = check_against_decision(plan, decision, tiers or {}, lines)
    if problems:
        raise InputError(source, problems)
    return plan


def load_plan(
    path: str | Path,
    *,
    decision: Decision | None = None,
    tiers: Mapping[str, TierSpec] | None = None,
) -> StagePlan:
    """Read and validate a stage plan (YAML or JSON).

    Args:
        path: the plan file.
        decision: also check that no stage opens more than this decision allows.
        tiers: the tiers offered (the decision's policy's `access_tiers`), needed with
            `decision`.

    Returns:
        The validated plan.

    Raises:
        InputError: missing, malformed or invalid; a stage that opens more than the decision
            allows. Each problem names the file, the field path (the stage) and the line.
    """
    source, text = read_document(path)
    data, lines = parse_document(text, source)
    if not isinstance(data, dict):
        raise InputError(source, [Problem("a stage plan must be a mapping (name, stages, ...)")])
    return parse_plan(data, source, lines, decision=decision, tiers=tiers)


__all__ = [
    "BUNDLED_PLANS",
    "bundled_plan_path",
    "check_against_decision",
    "check_structure",
    "load_plan",
    "parse_plan",
    "stage_excess",
]
