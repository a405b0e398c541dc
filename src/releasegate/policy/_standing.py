"""`ReleaseView`: a decision's standing (signed? in force? what is open?) as plain data.

The approvals package builds it from the verified signatures, the fired triggers and
`open_now` (`approvals.release_view`); the reports package only prints it. It lives here, with
`Decision`, because both of those packages read it and neither may import the other. Without
one, a decision renders as just decided: pending, unsigned, its tiers not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

from releasegate.access._tiers import TierSpec
from releasegate.policy._decision import Decision
from releasegate.vocab import AccessLevel, Component


@dataclass(frozen=True)
class SignatureLine:
    """One signed sign-off as the documents list it."""

    action: str
    signer: str
    role: str
    signed_at: str
    key_id: str
    reason: str = ""
    counted: bool = False
    problem: str | None = None  # the signature does not verify
    note: str | None = None  # valid, but does not count (revoked key, duplicate)


@dataclass(frozen=True)
class TierLine:
    """One access tier: open now or not, and whether the decision itself allows it."""

    spec: TierSpec
    open_now: bool
    reason_now: str | None
    allowed: bool  # by the decision's levels, once it is in force
    reason: str | None = None  # why the decision does not allow it


@dataclass(frozen=True)
class StageLine:
    """One move of a staged release (start, promote, rollback) as the documents list it."""

    seq: int
    kind: str
    from_stage: str | None
    to_stage: str
    at: str
    actor: str
    reason: str
    audit_seq: int
    trigger: str | None = None


@dataclass(frozen=True)
class ReleaseView:
    """The decision's standing when the documents were rendered."""

    status: str  # pending, approved, rejected, halted, unverified
    summary: str
    approvals: int
    required: int
    in_force: dict[Component, AccessLevel]
    approved_at: str | None = None
    valid_until: str | None = None
    signatures: tuple[SignatureLine, ...] = ()
    reassessment: tuple[str, ...] = ()
    tiers: tuple[TierLine, ...] = ()
    problems: tuple[str, ...] = ()
    tiers_evaluated: bool = True
    stage: str | None = None  # the current stage of the staged release
    stage_plan: str | None = None  # its plan's name and version
    stage_timeline: tuple[StageLine, ...] = ()

    @property
    def reassessment_required(self) -> bool:
        return bool(self.reassessment)

    @classmethod
    def just_decided(cls, decision: Decision) -> ReleaseView:
        """A decision as `decide` leaves it: no signature yet, nothing in force."""
        halted = decision.status == "halted"
        return cls(
            status="halted" if halted else "pending",
            summary=(
                f"halted by the policy's rules: {decision.halted_reason}"
                if halted
                else f"pending: 0 of the {decision.signoff.required} approvals required"
            ),
            approvals=0,
            required=decision.signoff.required,
            in_force={c: AccessLevel.CLOSED for c in decision.levels},
            valid_until=decision.valid_until.isoformat() if decision.valid_until else None,
            tiers_evaluated=False,
        )


__all__ = ["ReleaseView", "SignatureLine", "StageLine", "TierLine"]
