"""`open_now`: the one answer to "what is open right now", with a reason for everything withheld.

It combines the decision (its signatures verified, approved, not halted, rejected or expired)
and the reassessment triggers that fired into the `weights` level in force and, from that, the
tiers the gateway may serve. The gateway asks it on every request (from a cache refreshed off
the hot path), `serve` asks it before it binds a port, and the CLI and the rendered documents
show what it says. Nothing else decides openness.

Every reason the level in force is below the decided one is a `Cap`: a fired trigger, or the
current stage of a staged release (`StageLimit`, which also closes every tier the stage does not
open, with code `stage_closed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from releasegate.access._tiers import TierSpec
from releasegate.approvals._allowed import check_tiers
from releasegate.approvals._registry import load_record
from releasegate.approvals._triggers import FiredTrigger, expiry_due, fired_triggers
from releasegate.approvals._verify import Verification
from releasegate.policy._decision import Decision
from releasegate.vocab import AccessLevel, Component

# A halt closes the model; what has been published about it stays published.
STAYS_PUBLISHED = frozenset({Component.DOCUMENTATION, Component.EVALUATIONS})


@dataclass(frozen=True)
class StageLimit:
    """What the current stage of a staged release opens (`releasegate.stages` builds it).

    Args:
        name: the stage.
        tiers: the tiers it opens; every other tier is closed (`stage_closed`).
        levels: the most open level of each component it names (always `weights`).
        note: how the release came to be in this stage, for the refusal's message.
    """

    name: str
    tiers: frozenset[str]
    levels: Mapping[Component, AccessLevel]
    note: str = ""


@dataclass(frozen=True)
class ReleaseState:
    """Everything `open_now` reads about one release, read at one moment.

    Args:
        decision: the decision in force.
        decision_id: its id in the store (its content hash's first 16 hex digits).
        verification: its signatures, checked; None when nobody checked them (a decision
            given in code, or `serve --dev`): the release then counts as unreviewed.
        fired: the reassessment triggers recorded as fired.
        stage: the current stage of its staged release (None: no plan; the decision alone).
    """

    decision: Decision
    decision_id: str
    verification: Verification | None
    fired: tuple[FiredTrigger, ...] = ()
    stage: StageLimit | None = None


@dataclass(frozen=True)
class TierState:
    """Whether one tier is open now; when not, a short code and the reason."""

    name: str
    open: bool
    code: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Cap:
    """One reason the weights level in force is below the decided one."""

    level: AccessLevel
    code: str
    reason: str


@dataclass(frozen=True)
class Openness:
    """What is open now, and why each withheld thing is withheld."""

    decision_id: str | None
    status: str  # approved, pending, rejected, halted, unverified, or unreviewed
    reviewed: bool  # signatures were checked (False under --dev or for a decision in code)
    weights: AccessLevel  # the weights level in force
    components: dict[Component, AccessLevel]
    tiers: dict[str, TierState]
    reassessment: tuple[FiredTrigger, ...] = ()
    closed_reason: str | None = None  # set when nothing of the model may be served
    caps: tuple[Cap, ...] = field(default=())
    stage: str | None = None  # the current stage of the staged release, if any

    @property
    def open_tiers(self) -> list[str]:
        return [name for name, t in self.tiers.items() if t.open]

    @property
    def withheld(self) -> dict[str, str]:
        """Each closed tier and why."""
        return {n: t.reason or "" for n, t in self.tiers.items() if not t.open}

    @property
    def reassessment_required(self) -> bool:
        return bool(self.reassessment)

    def tier(self, name: str) -> TierState:
        """The state of one tier (an unknown tier is closed)."""
        return self.tiers.get(name) or TierState(
            name, False, "tier_not_offered", f"tier {name!r} is not offered"
        )

    def to_json(self) -> dict[str, Any]:
        """The openness as `/v1/models` metadata and `decision status --json` show it."""
        return {
            "decision": self.decision_id,
            "status": self.status,
            "reviewed": self.reviewed,
            "weights": self.weights.value,
            "reassessment_required": self.reassessment_required,
            "reassessment": [f.to_json() for f in self.reassessment],
            "stage": self.stage,
            "tiers_open": self.open_tiers,
            "tiers_withheld": self.withheld,
        }


def open_now(state: ReleaseState | None, tiers: Mapping[str, TierSpec], now: datetime) -> Openness:
    """What is open right now.

    Args:
        state: the release (None: no decision at all, `serve --dev`; everything offered is
            open and marked unreviewed).
        tiers: the tiers the gateway offers.
        now: the time to judge expiry at (timezone-aware).

    Returns:
        The openness: the weights level in force, each tier open or closed with a reason.
    """
    if state is None:
        return Openness(
            decision_id=None,
            status="unreviewed",
            reviewed=False,
            weights=AccessLevel.FULLY_OPEN,
            components={c: AccessLevel.FULLY_OPEN for c in Component},
            tiers={name: TierState(name, True) for name in tiers},
        )
    decision = state.decision
    status, code, closed = _status(state)
    fired = _fired(state, now)
    caps = _caps(state, fired)
    decided = decision.levels.get(Component.WEIGHTS, AccessLevel.CLOSED)
    weights = min([decided, *(c.level for c in caps)], key=lambda level: level.rank)
    components = dict(decision.levels)
    components[Component.WEIGHTS] = weights
    if state.stage is not None:
        for component, level in state.stage.levels.items():
            held = components.get(component, AccessLevel.CLOSED)
            components[component] = min(held, level, key=lambda lv: lv.rank)
    if closed is not None:
        keep = STAYS_PUBLISHED if status == "halted" else frozenset()
        components = {
            c: (lvl if c in keep else AccessLevel.CLOSED) for c, lvl in components.items()
        }
        weights = AccessLevel.CLOSED
        states = {name: TierState(name, False, code, closed) for name in tiers}
    else:
        states = _tier_states(decision, tiers, weights, caps)
        if state.stage is not None:
            states = _stage_states(states, state.stage)
    return Openness(
        decision_id=state.decision_id,
        status=status,
        reviewed=state.verification is not None,
        weights=weights,
        components=components,
        tiers=states,
        reassessment=tuple(fired),
        closed_reason=closed,
        caps=tuple(caps),
        stage=state.stage.name if state.stage is not None else None,
    )


def _stage_states(states: dict[str, TierState], stage: StageLimit) -> dict[str, TierState]:
    out = dict(states)
    for name, tier in states.items():
        if tier.open and name not in stage.tiers:
            out[name] = TierState(
                name,
                False,
                "stage_closed",
                f"tier {name!r} is not open in stage {stage.name!r} of the staged release"
                + (f" ({stage.note})" if stage.note else ""),
            )
    return out


def _status(state: ReleaseState) -> tuple[str, str | None, str | None]:
    """(status, code, reason) where a reason means nothing of the model may be served."""
    decision, v = state.decision, state.verification
    if v is None:
        if decision.status == "halted":
            return "halted", "decision_halted", f"the decision is halted: {decision.halted_reason}"
        return "unreviewed", None, None
    if v.problems:
        return (
            "unverified",
            "decision_unverified",
            "the decision does not verify: " + "; ".join(v.problems),
        )
    if v.status == "halted":
        return "halted", "decision_halted", f"the decision is {v.halt_reason()}"
    if v.status == "rejected":
        return "rejected", "decision_rejected", "the decision was " + v.failures()[0]
    if v.status == "pending":
        return (
            "pending",
            "decision_pending",
            f"the decision is not approved yet ({v.approvals} of {v.required} approvals)",
        )
    return "approved", None, None


def _fired(state: ReleaseState, now: datetime) -> list[FiredTrigger]:
    fired = list(state.fired)
    expired = expiry_due(state.decision, now)
    if expired is not None and all(f.trigger_id != expired.trigger_id for f in fired):
        fired.append(expired)  # the clock has fired it before any process recorded it
    return fired


def _caps(state: ReleaseState, fired: list[FiredTrigger]) -> list[Cap]:
    caps = [
        Cap(
            f.fallback,
            "reassessment_required",
            f"reassessment required: trigger {f.trigger_id} fired at "
            f"{f.fired_at.isoformat(timespec='seconds')} ({f.reason}); model access is at most "
            f"{f.fallback.value} until a new decision is signed",
        )
        for f in fired
    ]
    stage = state.stage
    decided = state.decision.levels.get(Component.WEIGHTS, AccessLevel.CLOSED)
    if (
        stage is not None
        and Component.WEIGHTS in stage.levels
        and stage.levels[Component.WEIGHTS].rank < decided.rank
    ):
        caps.append(
            Cap(
                stage.levels[Component.WEIGHTS],
                "stage_closed",
                f"stage {stage.name!r} of the staged release opens weights at most at "
                f"{stage.levels[Component.WEIGHTS].value}"
                + (f" ({stage.note})" if stage.note else ""),
            )
        )
    return caps


def _tier_states(
    decision: Decision,
    tiers: Mapping[str, TierSpec],
    weights: AccessLevel,
    caps: list[Cap],
) -> dict[str, TierState]:
    levels = dict(decision.levels)
    levels[Component.WEIGHTS] = weights
    in_force = decision.model_copy(update={"levels": levels})
    binding = min(caps, key=lambda c: c.level.rank) if caps else None
    states: dict[str, TierState] = {}
    for name, tier in tiers.items():
        violations = check_tiers(in_force, {name: tier})
        if not violations:
            states[name] = TierState(name, True)
        elif binding is not None and not check_tiers(decision, {name: tier}):
            states[name] = TierState(name, False, binding.code, binding.reason)
        else:
            first = violations[0]
            states[name] = TierState(
                name, False, "tier_not_allowed", f"{first.message} [rule: {first.rule}]"
            )
    return states


def load_release_state(
    session: Session, decision_id: str, trusted_keys: frozenset[str] | None = None
) -> ReleaseState:
    """Read a decision's release state from the store, its signatures verified (against the
    `trusted_keys` only, when given).

    Raises:
        DecisionNotFoundError: no such decision.
    """
    record = load_record(session, decision_id, trusted_keys)
    return ReleaseState(
        decision=record.decision(),
        decision_id=record.id,
        verification=record.verification,
        fired=fired_triggers(session, record.id),
    )


__all__ = [
    "STAYS_PUBLISHED",
    "Cap",
    "Openness",
    "ReleaseState",
    "StageLimit",
    "TierState",
    "load_release_state",
    "open_now",
]
