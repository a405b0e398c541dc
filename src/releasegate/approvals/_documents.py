"""A decision's standing for its documents (`release_view`) and writing them in place.

Every sign-off, halt, rejection or fired trigger changes what `decision.md`, `decision.html`,
the model card and the EU AI Act checklist say; the CLI renders them again (`reports`) from the
`ReleaseView` built here, with the same `open_now` the gateway asks, into the directory `decide`
wrote (the store remembers it), together with the signatures, so that directory also verifies.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from releasegate.approvals._openness import ReleaseState, StageLimit, open_now
from releasegate.approvals._triggers import FiredTrigger
from releasegate.approvals._verify import Verification, verify_signoffs
from releasegate.policy._decision import Decision
from releasegate.policy._model import ReleasePolicy
from releasegate.policy._standing import ReleaseView, SignatureLine, StageLine, TierLine


def release_view(
    decision: Decision,
    policy: ReleasePolicy,
    *,
    verification: Verification | None,
    fired: tuple[FiredTrigger, ...] = (),
    now: datetime,
    stage: StageLimit | None = None,
    stage_plan: str | None = None,
    stage_timeline: tuple[StageLine, ...] = (),
) -> ReleaseView:
    """The decision's standing for its documents, from the same `open_now` the gateway asks.

    Args:
        decision: the decision.
        policy: the policy it was made under (its access tiers are what is described).
        verification: its checked signatures (None: just decided, none yet).
        fired: the triggers that fired.
        now: when the documents are rendered.
        stage: the current stage of its staged release (what `open_now` then enforces).
        stage_plan: the stage plan's name and version.
        stage_timeline: every stage transition, oldest first.
    """
    checked = verification or verify_signoffs(decision, [], {})
    decision_id = decision.content_sha256[:16]
    openness = open_now(
        ReleaseState(decision, decision_id, checked, fired, stage), policy.access_tiers, now
    )
    decided = open_now(ReleaseState(decision, decision_id, None), policy.access_tiers, now)
    tiers = tuple(
        TierLine(
            spec=spec,
            open_now=openness.tier(name).open,
            reason_now=openness.tier(name).reason,
            allowed=decided.tier(name).open,
            reason=decided.tier(name).reason,
        )
        for name, spec in policy.access_tiers.items()
    )
    return ReleaseView(
        status=openness.status,
        summary=_summary(checked, openness.closed_reason),
        approvals=checked.approvals,
        required=checked.required,
        in_force=dict(openness.components),
        approved_at=checked.approved_at.isoformat() if checked.approved_at else None,
        valid_until=decision.valid_until.isoformat() if decision.valid_until else None,
        signatures=tuple(
            SignatureLine(
                action=c.signed.statement.action,
                signer=c.signed.statement.signer,
                role=c.signed.statement.role,
                signed_at=c.signed.statement.signed_at,
                key_id=c.signed.statement.key_id,
                reason=c.signed.statement.reason,
                counted=c.counted,
                problem=c.problem,
                note=c.note,
            )
            for c in checked.signatures
        ),
        reassessment=tuple(
            cap.reason for cap in openness.caps if cap.code == "reassessment_required"
        ),
        tiers=tiers,
        problems=checked.problems,
        stage=stage.name if stage is not None else None,
        stage_plan=stage_plan,
        stage_timeline=stage_timeline,
    )


def _summary(v: Verification, closed: str | None) -> str:
    if v.problems:
        return "the signatures do not verify: " + "; ".join(v.problems)
    if v.status == "approved":
        when = v.approved_at.isoformat() if v.approved_at else "?"
        signers = [
            f"{c.signed.statement.signer} ({c.signed.statement.role})"
            for c in v.signatures
            if c.counted
        ]
        return f"approved at {when} by {', '.join(signers)} ({v.approvals} of {v.required})"
    return closed or v.status


def write_documents(out: Path, files: Mapping[str, bytes]) -> Path:
    """Write (or replace) each file in `out` atomically, leaving other files alone.

    Raises:
        ValueError: `out` holds a `decision.json` of another decision.
    """
    out.mkdir(parents=True, exist_ok=True)
    existing = out / "decision.json"
    if existing.is_file() and existing.read_bytes() != files["decision.json"]:
        raise ValueError(f"{out} holds another decision's decision.json; not overwriting it")
    for name, content in files.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, out / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return out


__all__ = ["release_view", "write_documents"]
