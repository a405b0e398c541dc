"""Serve the gateway with uvicorn (uvloop, httptools): the library behind `releasegate serve`.

`plan_serve` decides, before any port is bound, whether the gateway may start: the decision
(a file, or an id in the store) must be recorded in the store, verify (content hash and every
signature), be approved by the policy's N of M, be neither rejected, halted nor expired, and
have been made for the model about to be served (its fingerprint, recomputed). The tiers it
does not allow are withheld with their reasons; only a decision that allows no tier at all
keeps the gateway from starting. `--dev` skips all of this, loudly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from releasegate.access._tiers import TierSpec
from releasegate.approvals._openness import Openness, ReleaseState, open_now
from releasegate.approvals._registry import DecisionRecord, DecisionRegistry
from releasegate.approvals._triggers import expiry_due, fired_triggers
from releasegate.backends._fingerprint import ModelFingerprint, model_fingerprint
from releasegate.errors import InputError, Problem, ReleasegateError
from releasegate.policy._decision import Decision
from releasegate.settings import Settings
from releasegate.stages import current_stage, started_tiers


class ServeRefused(ReleasegateError):
    """`serve` must not start; `code` names the reason (pending, unverifiable, wrong_model...)."""

    def __init__(
        self, code: str, message: str, *, decision_id: str | None = None, fingerprint: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.decision_id = decision_id
        self.fingerprint = fingerprint  # the new fingerprint, for code "new_fingerprint"


@dataclass(frozen=True)
class ServePlan:
    """What `serve` will serve, decided before it binds a port."""

    tiers: dict[str, TierSpec]
    openness: Openness
    decision: Decision | None = None
    decision_id: str | None = None
    fingerprint: ModelFingerprint | None = None
    notes: list[str] = field(default_factory=list)


def load_decision(path: str | os.PathLike[str]) -> Decision:
    """Load a decision file (or the `decision.json` of a directory) and check that it was not
    edited after `decide` wrote it.

    Raises:
        InputError: unreadable, invalid, or its content no longer matches its `content_sha256`.
    """
    from releasegate._util.load import load_model
    from releasegate.policy import decision_content_sha256

    source = Path(path)
    if source.is_dir():
        source = source / "decision.json"
    decision = load_model(Decision, source)
    if decision.content_sha256 and decision_content_sha256(decision) != decision.content_sha256:
        raise InputError(
            str(source),
            [
                Problem(
                    "the decision's content does not match its content_sha256: it was edited "
                    "after `releasegate decide` wrote it",
                    "content_sha256",
                )
            ],
        )
    return decision


def load_tiers(
    policy_path: str | os.PathLike[str] | None, decision: Decision | None
) -> dict[str, TierSpec]:
    """The tiers to offer: the policy's `access_tiers`, or `DEFAULT_TIERS`.

    The policy must be the one the decision was made under (same SHA-256), so a looser policy
    cannot be slipped in at serve time.

    Raises:
        InputError: a bad policy file, or one that is not the decision's.
    """
    from releasegate.access import DEFAULT_TIERS

    if policy_path is None:
        return dict(DEFAULT_TIERS)
    from releasegate.policy import load_policy, model_sha256

    policy = load_policy(Path(policy_path))
    if decision is not None and model_sha256(policy) != decision.policy_sha256:
        raise InputError(
            str(policy_path),
            [
                Problem(
                    f"this policy ({policy.name} {policy.version}) is not the one the decision "
                    f"was made under ({decision.policy_name} {decision.policy_version}; SHA-256 "
                    "differs)"
                )
            ],
        )
    return dict(policy.access_tiers)


def find_decision(
    sessions: sessionmaker[Session], ref: str, trusted_keys: frozenset[str] | None = None
) -> DecisionRecord:
    """The stored decision a `--decision` names: a file or directory (found in the store by its
    content hash), or an id / unique id prefix.

    Raises:
        InputError: an edited file.
        DecisionNotFoundError: not in the store.
    """
    registry = DecisionRegistry(sessions, trusted_keys=trusted_keys)
    if Path(ref).exists():
        return registry.find(load_decision(ref))
    return registry.get(ref)


def plan_serve(
    sessions: sessionmaker[Session],
    *,
    model: str,
    decision: str | None,
    policy_path: str | os.PathLike[str] | None,
    dev: bool,
    now: datetime,
    tiers: Mapping[str, TierSpec] | None = None,
    trusted_keys: frozenset[str] | None = None,
) -> ServePlan:
    """Check everything `serve` needs before it binds a port.

    Args:
        sessions: the store.
        model: the model spec about to be served.
        decision: a decision file or directory, or a stored decision's id (None only with
            `dev`).
        policy_path: the policy whose tiers to offer (default: the policy stored with the
            decision, else `DEFAULT_TIERS`).
        tiers: offer these tiers instead (each is still checked against the decision).
        trusted_keys: only these signer public keys count (`RELEASEGATE_TRUSTED_SIGNER_KEYS`).
        dev: local trials: no decision needed, signatures and fingerprint not enforced.
        now: the time to judge expiry at.

    Returns:
        The plan: the tiers, what is open and withheld, the decision and the fingerprint.

    Raises:
        ServeRefused: with the reason's code.
        InputError: a bad decision or policy file.
    """
    if decision is None:
        if not dev:
            raise ServeRefused("no_decision", "no decision to enforce: pass --decision (or --dev)")
        offered = dict(tiers) if tiers is not None else load_tiers(policy_path, None)
        return ServePlan(offered, open_now(None, offered, now), notes=["no decision (--dev)"])
    from releasegate.approvals._registry import DecisionNotFoundError

    try:
        record = find_decision(sessions, decision, trusted_keys)
    except DecisionNotFoundError as exc:
        raise ServeRefused("decision_not_found", str(exc)) from exc
    chosen = record.decision()
    with sessions() as session:
        fired = fired_triggers(session, record.id)
        staged = current_stage(session, record.id)
        started = started_tiers(session, record.id) if staged is not None else None
    if tiers is not None:
        offered = dict(tiers)
    elif started and policy_path is None:  # the tiers its staged release was started with
        offered = started
    else:
        offered = _tiers(record, chosen, policy_path)
    stage = staged.limit(offered) if staged is not None else None
    if dev:
        openness = open_now(ReleaseState(chosen, record.id, None, fired, stage), offered, now)
        notes = ["signatures, expiry and fingerprint not enforced (--dev)"]
        return ServePlan(offered, openness, chosen, record.id, notes=notes)
    _check_signed(record)
    expired = expiry_due(chosen, now)
    if expired is not None:
        raise ServeRefused("expired", f"decision {record.id} has expired: {expired.reason}")
    try:
        fingerprint, notes = _check_model(chosen, model)
    except ServeRefused as exc:
        exc.decision_id = record.id
        raise
    openness = open_now(
        ReleaseState(chosen, record.id, record.verification, fired, stage), offered, now
    )
    if not openness.open_tiers:
        reasons = "\n".join(f"  - tier {n!r}: {r}" for n, r in openness.withheld.items())
        raise ServeRefused(
            "nothing_allowed", f"decision {record.id} allows none of the tiers:\n{reasons}"
        )
    return ServePlan(offered, openness, chosen, record.id, fingerprint, notes)


def _tiers(
    record: DecisionRecord, decision: Decision, policy_path: str | os.PathLike[str] | None
) -> dict[str, TierSpec]:
    if policy_path is None:
        stored = record.policy()
        if stored is not None:
            return dict(stored.access_tiers)
    return load_tiers(policy_path, decision)


def _check_signed(record: DecisionRecord) -> None:
    v = record.verification
    assert v is not None
    if v.problems:
        raise ServeRefused(
            "unverifiable", f"decision {record.id} does not verify: " + "; ".join(v.problems)
        )
    if v.status != "approved":
        raise ServeRefused(v.status, f"decision {record.id} is {v.status}: " + v.failures()[0])


def _check_model(decision: Decision, model: str) -> tuple[ModelFingerprint, list[str]]:
    expected = decision.model.fingerprint
    if expected is None:
        raise ServeRefused(
            "no_fingerprint",
            f"the decision records no model fingerprint for {decision.model.name}, so serve "
            "cannot check that this is the model assessed; assess it again with this version",
        )
    actual = model_fingerprint(model)
    if actual.value != expected and model == decision.model.name:
        # The model the decision names, with other weights: the event the policy's
        # `model_fingerprint` trigger is for (serve's caller fires it).
        raise ServeRefused(
            "new_fingerprint",
            f"the weights of {model} changed since the decision was made: fingerprint "
            f"{_short(actual.value)} != {_short(expected)}; it needs reassessing",
            fingerprint=actual.value,
        )
    if actual.value != expected:
        raise ServeRefused(
            "wrong_model",
            f"--model {model} is not the model the decision was made for "
            f"({decision.model.name}): fingerprint {_short(actual.value)} != {_short(expected)}",
        )
    notes = []
    if not actual.verified:
        notes.append(
            f"fingerprint {actual.value} is the endpoint's declared model id: unverified (a "
            "remote endpoint's weights cannot be hashed from here)"
        )
    return actual, notes


def _short(fingerprint: str) -> str:
    kind, _, value = fingerprint.partition(":")
    return f"{kind}:{value[:16]}…" if kind == "sha256" else fingerprint


def serve(
    settings: Settings,
    *,
    model: str,
    plan: ServePlan,
    host: str = "127.0.0.1",
    port: int = 8000,
    dev: bool = False,
    log_level: str = "warning",
) -> None:
    """Build the app for a checked plan and run it until interrupted.

    Raises:
        GatewayConfigError, DecisionForbidsServing: before anything listens.
    """
    from releasegate.gateway._app import create_app
    from releasegate.gateway._http import run_app

    app = create_app(
        settings,
        model=model,
        decision=plan.decision if dev else None,
        decision_id=None if dev else plan.decision_id,
        fingerprint=plan.fingerprint.value if plan.fingerprint else None,
        tiers=plan.tiers,
        dev=dev,
    )
    run_app(app, settings, host=host, port=port, log_level=log_level)


def tiers_for(plan: ServePlan) -> Mapping[str, TierSpec]:
    """The tiers the plan serves (the open ones)."""
    return {n: t for n, t in plan.tiers.items() if n in plan.openness.open_tiers}


__all__ = [
    "ServePlan",
    "ServeRefused",
    "find_decision",
    "load_decision",
    "load_tiers",
    "plan_serve",
    "serve",
    "tiers_for",
]
