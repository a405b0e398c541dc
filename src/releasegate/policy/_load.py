"""Load a `ReleasePolicy` and check what the types alone cannot: names, order, ranges, ids.

Every problem names the file, the field path and the YAML line.
"""

from __future__ import annotations

import itertools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from releasegate._util.load import Loc, format_loc, parse_document, read_document
from releasegate.errors import InputError, Problem
from releasegate.policy._model import (
    WHEN_TAGS,
    AllWhen,
    AnyWhen,
    MetricWhen,
    ReleasePolicy,
    TierWhen,
    When,
)
from releasegate.vocab import Tier

BUNDLED_POLICIES = ("default", "conservative", "open-leaning")
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def bundled_policy_path(name: str = "default") -> Path:
    """Path of a policy shipped inside the package (`default`, `conservative`, `open-leaning`)."""
    if name not in BUNDLED_POLICIES:
        raise ValueError(f"no bundled policy {name!r}; choose from {', '.join(BUNDLED_POLICIES)}")
    return Path(str(resources.files("releasegate.policy") / "_bundled" / f"{name}.yaml"))


def _line_for(loc: Loc, lines: dict[Loc, int]) -> int | None:
    probe = tuple(loc)
    while probe:
        if probe in lines:
            return lines[probe]
        probe = probe[:-1]
    return lines.get(())


def _problem(message: str, loc: Loc, lines: dict[Loc, int]) -> Problem:
    return Problem(message, path=format_loc(loc), line=_line_for(loc, lines))


def _type_problems(exc: ValidationError, lines: dict[Loc, int]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        # The condition union's tags are internal; the user wrote `when: {any: [...]}`.
        # pydantic marks a bad dict key with a trailing "[key]"; the key itself names the spot.
        loc: Loc = tuple(p for p in err["loc"] if p not in WHEN_TAGS and p != "[key]")
        message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        if err["type"] == "enum":
            message = f"unknown name {err['input']!r}: {err['msg'].lower()}"
        problems.append(_problem(message, loc, lines))
    return problems


def _check_cutoffs(policy: ReleasePolicy, lines: dict[Loc, int]) -> list[Problem]:
    problems = []
    for domain, dom in policy.domains.items():
        for i, ind in enumerate(dom.indicators):
            base: Loc = ("domains", domain, "indicators", i)
            spec = policy.metrics.get(ind.metric)
            if spec is None:
                known = ", ".join(sorted(policy.metrics))
                problems.append(
                    _problem(
                        f"unknown metric {ind.metric!r} (defined under metrics: {known})",
                        (*base, "metric"),
                        lines,
                    )
                )
                continue
            if Tier.LOW in ind.cutoffs:
                problems.append(
                    _problem(
                        "no cutoff for 'low': low is every value before the first cutoff",
                        (*base, "cutoffs", "low"),
                        lines,
                    )
                )
            lo, hi = spec.range
            if ind.measure == "uplift":
                lo, hi = lo - hi, hi - lo
            ordered = sorted((t for t in ind.cutoffs if t != Tier.LOW), key=lambda t: t.rank)
            for tier in ordered:
                value = ind.cutoffs[tier]
                if not lo <= value <= hi:
                    problems.append(
                        _problem(
                            f"cutoff {value} is outside the {ind.measure} range [{lo}, {hi}] "
                            f"of metric {ind.metric!r}",
                            (*base, "cutoffs", tier.value),
                            lines,
                        )
                    )
            for prev, tier in itertools.pairwise(ordered):
                a, b = ind.cutoffs[prev], ind.cutoffs[tier]
                if spec.direction == "higher_is_worse" and not a < b:
                    problems.append(
                        _problem(
                            f"cutoffs out of order: {prev.value} ({a}) must be below "
                            f"{tier.value} ({b}) for a higher_is_worse metric",
                            (*base, "cutoffs", tier.value),
                            lines,
                        )
                    )
                if spec.direction == "lower_is_worse" and not a > b:
                    problems.append(
                        _problem(
                            f"cutoffs out of order: {prev.value} ({a}) must be above "
                            f"{tier.value} ({b}) for a lower_is_worse metric",
                            (*base, "cutoffs", tier.value),
                            lines,
                        )
                    )
    return problems


def _check_when(
    when: When, loc: Loc, policy: ReleasePolicy, lines: dict[Loc, int]
) -> list[Problem]:
    if isinstance(when, AnyWhen | AllWhen):
        key = "any" if isinstance(when, AnyWhen) else "all"
        items = when.any if isinstance(when, AnyWhen) else when.all
        out: list[Problem] = []
        for i, sub in enumerate(items):
            out += _check_when(sub, (*loc, key, i), policy, lines)
        return out
    problems = []
    domains = ", ".join(sorted(policy.domains))
    if isinstance(when, TierWhen):
        if when.domain != "any" and when.domain not in policy.domains:
            problems.append(
                _problem(
                    f"unknown domain {when.domain!r} (policy domains: {domains}, or 'any')",
                    (*loc, "domain"),
                    lines,
                )
            )
        return problems
    assert isinstance(when, MetricWhen)
    read = {ind.metric for _, ind in policy.indicators()}
    if when.metric not in read:
        problems.append(
            _problem(
                f"rule reads metric {when.metric!r}, which no indicator defines "
                f"(indicators read: {', '.join(sorted(read))})",
                (*loc, "metric"),
                lines,
            )
        )
        return problems
    if when.domain is not None and when.domain not in policy.domains:
        problems.append(
            _problem(
                f"unknown domain {when.domain!r} (policy domains: {domains})",
                (*loc, "domain"),
                lines,
            )
        )
    direction = policy.metrics[when.metric].direction
    # Atoms must point at the worse side, or a rule could close a release on *better* evidence.
    if direction == "higher_is_worse" and when.at_least is None:
        problems.append(
            _problem(
                f"{when.metric} is higher_is_worse: use `at_least`, not `at_most`",
                (*loc, "at_most"),
                lines,
            )
        )
    if direction == "lower_is_worse" and when.at_most is None:
        problems.append(
            _problem(
                f"{when.metric} is lower_is_worse: use `at_most`, not `at_least`",
                (*loc, "at_least"),
                lines,
            )
        )
    return problems


def _check_names(policy: ReleasePolicy, lines: dict[Loc, int]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, Loc] = {}
    for domain, dom in policy.domains.items():
        for i, ind in enumerate(dom.indicators):
            loc: Loc = ("domains", domain, "indicators", i, "id")
            if ind.id in seen:
                problems.append(
                    _problem(
                        f"duplicate indicator id {ind.id!r} (first at {format_loc(seen[ind.id])})",
                        loc,
                        lines,
                    )
                )
            seen.setdefault(ind.id, loc)
    rule_ids: dict[str, int] = {}
    for i, rule in enumerate(policy.rules):
        if rule.id in rule_ids:
            problems.append(
                _problem(
                    f"duplicate rule id {rule.id!r} (first at rules[{rule_ids[rule.id]}])",
                    ("rules", i, "id"),
                    lines,
                )
            )
        rule_ids.setdefault(rule.id, i)
        problems += _check_when(rule.when, ("rules", i, "when"), policy, lines)
        for component, names in rule.then.require_safeguards.items():
            for j, name in enumerate(names):
                if name not in policy.safeguards:
                    problems.append(
                        _problem(
                            f"unknown safeguard {name!r} (not in the `safeguards:` catalogue)",
                            ("rules", i, "then", "require_safeguards", component.value, j),
                            lines,
                        )
                    )
    for component, by_level in policy.required_safeguards.items():
        for level, names in by_level.items():
            for j, name in enumerate(names):
                if name not in policy.safeguards:
                    problems.append(
                        _problem(
                            f"unknown safeguard {name!r} (not in the `safeguards:` catalogue)",
                            ("required_safeguards", component.value, level.value, j),
                            lines,
                        )
                    )
    trigger_ids: set[str] = set()
    for i, trig in enumerate(policy.reassessment_triggers):
        if trig.id in trigger_ids:
            problems.append(
                _problem(
                    f"duplicate trigger id {trig.id!r}", ("reassessment_triggers", i, "id"), lines
                )
            )
        trigger_ids.add(trig.id)
    for key, spec in policy.access_tiers.items():
        if spec.name != key:
            problems.append(
                _problem(
                    f"tier name {spec.name!r} differs from its key {key!r}",
                    ("access_tiers", key, "name"),
                    lines,
                )
            )
    return problems


def check_policy(policy: ReleasePolicy, lines: dict[Loc, int] | None = None) -> list[Problem]:
    """Semantic problems of a policy that type-checked (empty when the policy is sound)."""
    lines = lines or {}
    return _check_cutoffs(policy, lines) + _check_names(policy, lines)


def parse_policy(data: Any, source: str, lines: dict[Loc, int] | None = None) -> ReleasePolicy:
    """Validate parsed policy data, by type and by meaning.

    Raises:
        InputError: every problem found, each with its field path and line.
    """
    lines = lines or {}
    try:
        policy = ReleasePolicy.model_validate(data)
    except ValidationError as exc:
        raise InputError(source, _type_problems(exc, lines)) from exc
    problems = check_policy(policy, lines)
    if problems:
        raise InputError(source, problems)
    return policy


def load_policy(path: str | Path) -> ReleasePolicy:
    """Read and validate a policy file (YAML, or JSON).

    Args:
        path: the policy file.

    Returns:
        The validated policy.

    Raises:
        InputError: the file is missing, malformed, or invalid; the error names the file, the
            field path and the line of each problem.
    """
    source, text = read_document(path)
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError:
        data = None  # parse_document below reports it with its line
    if not isinstance(data, dict):
        data, _ = parse_document(text, source)
        raise InputError(source, [Problem("a policy must be a mapping (name, version, ...)")])
    try:
        return parse_policy(data, source)
    except InputError:
        # Only now compose the document a second time, to learn the line of each field.
        _, lines = parse_document(text, source)
        return parse_policy(data, source, lines)


__all__ = ["BUNDLED_POLICIES", "bundled_policy_path", "check_policy", "load_policy", "parse_policy"]
