"""`open_now`: what a release opens right now, and a reason for everything withheld."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from releasegate._util import ed25519
from releasegate.access import DEFAULT_TIERS
from releasegate.approvals import (
    STAYS_PUBLISHED,
    FiredTrigger,
    ReleaseState,
    SignedStatement,
    Signer,
    Statement,
    decision_sha256,
    open_now,
    verify_signoffs,
)
from releasegate.policy import Decision
from releasegate.vocab import AccessLevel, Component
from tests.helpers.decisions import example_decision
from tests.helpers.signing import ROLES, at_level

NOW = datetime.now(UTC)


KEYS: dict[str, Signer] = {}  # every key the tests made, by id


def _signed(decision: Decision, actions: list[tuple[str, str]]) -> ReleaseState:
    """The decision with real signatures: (action, role) pairs, one person per role."""
    signers: dict[str, Signer] = {}
    signatures = []
    for i, (action, role) in enumerate(actions):
        key = ed25519.generate_private_key()
        public = ed25519.public_key_b64(key)
        kid = ed25519.key_id(public)
        name = f"person-{role}"
        signers[kid] = Signer(kid, name, (role,), public, NOW)
        statement = Statement(
            action=action,  # type: ignore[arg-type]
            decision_id=decision.content_sha256[:16],
            decision_sha256=decision_sha256(decision),
            role=role,
            signer=name,
            key_id=kid,
            signed_at=f"2026-12-01T00:00:0{i}.000000Z",
            reason="because" if action != "approve" else "",
        )
        signatures.append(SignedStatement(statement, ed25519.sign(key, statement.to_bytes())))
    KEYS.update(signers)
    verification = verify_signoffs(decision, signatures, signers)
    return ReleaseState(decision, decision.content_sha256[:16], verification)


def _approved(level: AccessLevel) -> ReleaseState:
    decision = at_level(example_decision("low-risk"), level)
    return _signed(decision, [("approve", ROLES[0]), ("approve", ROLES[1])])


def test_approved_research_api_opens_every_default_tier() -> None:
    openness = open_now(_approved(AccessLevel.RESEARCH_API), DEFAULT_TIERS, NOW)
    assert openness.status == "approved" and openness.reviewed
    assert openness.open_tiers == list(DEFAULT_TIERS)
    assert openness.withheld == {} and not openness.reassessment_required


def test_tiers_above_the_decision_are_withheld_with_the_rule() -> None:
    openness = open_now(_approved(AccessLevel.API), DEFAULT_TIERS, NOW)
    assert openness.open_tiers == ["public", "developer"]
    for name in ("researcher", "auditor"):
        state = openness.tier(name)
        assert not state.open and state.code == "tier_not_allowed"
        assert "tier-above-decision" in (state.reason or "")


def test_pending_rejected_halted_and_unverified_close_everything() -> None:
    decision = at_level(example_decision("low-risk"), AccessLevel.RESEARCH_API)
    cases = {
        "pending": _signed(decision, [("approve", ROLES[0])]),
        "rejected": _signed(decision, [("reject", ROLES[1])]),
        "halted": _signed(
            decision, [("approve", ROLES[0]), ("approve", ROLES[1]), ("halt", ROLES[2])]
        ),
    }
    for status, state in cases.items():
        openness = open_now(state, DEFAULT_TIERS, NOW)
        assert openness.status == status, status
        assert openness.open_tiers == [] and openness.weights is AccessLevel.CLOSED
        assert {t.code for t in openness.tiers.values()} == {f"decision_{status}"}
    halted = open_now(cases["halted"], DEFAULT_TIERS, NOW)
    # A halt closes the model; documentation and evaluation results stay published.
    for component, level in halted.components.items():
        if component in STAYS_PUBLISHED:
            assert level == decision.levels[component] and level > AccessLevel.CLOSED
        else:
            assert level is AccessLevel.CLOSED
    pending = open_now(cases["pending"], DEFAULT_TIERS, NOW)
    assert set(pending.components.values()) == {AccessLevel.CLOSED}
    # Signatures over a decision whose level was then edited (hash recomputed) do not verify.
    forged = at_level(decision, AccessLevel.FULLY_OPEN)
    state = cases["halted"]
    assert state.verification is not None
    unverified = ReleaseState(
        forged,
        forged.content_sha256[:16],
        verify_signoffs(forged, [c.signed for c in state.verification.signatures], KEYS),
    )
    openness = open_now(unverified, DEFAULT_TIERS, NOW)
    assert openness.status == "unverified" and openness.open_tiers == []
    assert "signs other bytes" in (openness.closed_reason or "")


def test_a_fired_trigger_steps_tiers_down_to_its_fallback() -> None:
    state = _approved(AccessLevel.RESEARCH_API)
    fired = FiredTrigger("confirmed-flaw", "flaw_report", AccessLevel.API, "flaw F-1", NOW)
    openness = open_now(
        ReleaseState(state.decision, state.decision_id, state.verification, (fired,)),
        DEFAULT_TIERS,
        NOW,
    )
    assert openness.reassessment_required and openness.weights is AccessLevel.API
    assert openness.open_tiers == ["public", "developer"]
    researcher = openness.tier("researcher")
    assert researcher.code == "reassessment_required"
    assert "confirmed-flaw" in (researcher.reason or "") and "flaw F-1" in (researcher.reason or "")
    assert openness.components[Component.WEIGHTS] is AccessLevel.API


def test_expiry_fires_by_the_clock() -> None:
    state = _approved(AccessLevel.RESEARCH_API)
    valid_until = state.decision.valid_until
    assert valid_until is not None and valid_until > NOW
    before = open_now(state, DEFAULT_TIERS, valid_until - timedelta(seconds=1))
    assert not before.reassessment_required
    after = open_now(state, DEFAULT_TIERS, valid_until + timedelta(seconds=1))
    assert after.reassessment_required
    [expiry] = after.reassessment
    assert expiry.trigger_id == "expiry" and not expiry.recorded
    assert after.weights is AccessLevel.API  # the default policy's fallback
    assert after.tier("auditor").code == "reassessment_required"


def test_no_decision_is_unreviewed_and_a_given_decision_is_not_reviewed() -> None:
    everything = open_now(None, DEFAULT_TIERS, NOW)
    assert everything.status == "unreviewed" and not everything.reviewed
    assert everything.open_tiers == list(DEFAULT_TIERS)
    decision = at_level(example_decision("low-risk"), AccessLevel.API)
    given = open_now(ReleaseState(decision, "x", None), DEFAULT_TIERS, NOW)
    assert given.status == "unreviewed" and given.open_tiers == ["public", "developer"]
