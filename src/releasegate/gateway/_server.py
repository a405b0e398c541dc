"""Serve the gateway with uvicorn (uvloop, httptools): the library behind `releasegate serve`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from releasegate.access._tiers import TierSpec
from releasegate.errors import InputError, Problem
from releasegate.policy._decision import Decision
from releasegate.settings import Settings


def load_decision(path: str | os.PathLike[str]) -> Decision:
    """Load a decision file and check that it was not edited after `decide` wrote it.

    Raises:
        InputError: unreadable, invalid, or its content no longer matches its `content_sha256`.
    """
    from releasegate._util.load import load_model
    from releasegate.policy import decision_content_sha256

    decision = load_model(Decision, Path(path))
    if decision.content_sha256 and decision_content_sha256(decision) != decision.content_sha256:
        raise InputError(
            str(path),
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


def serve(
    settings: Settings,
    *,
    model: str,
    decision: Decision | None,
    tiers: Mapping[str, TierSpec],
    host: str = "127.0.0.1",
    port: int = 8000,
    dev: bool = False,
    log_level: str = "warning",
) -> None:
    """Build the app (refusing forbidden configurations) and run it until interrupted.

    Raises:
        GatewayConfigError, DecisionForbidsServing: before anything listens.
    """
    import uvicorn

    from releasegate.gateway._app import create_app

    app = create_app(settings, model=model, decision=decision, tiers=tiers, dev=dev)
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_level=log_level,
        access_log=False,  # the audit log records every request; a second log costs latency
        lifespan="on",
    )


__all__ = ["load_decision", "load_tiers", "serve"]
