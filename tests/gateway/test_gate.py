"""`LiveGate`: the gateway's view of `open_now` follows the store (a revoked signer closes the
decision) and fails closed when the store can no longer be read (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from releasegate.access import DEFAULT_TIERS
from releasegate.approvals import SignerRegistry
from releasegate.gateway._errors import ApiError
from releasegate.gateway._gate import LiveGate
from releasegate.vocab import AccessLevel
from tests.helpers.decisions import example_decision
from tests.helpers.signing import approve, at_level, audit_log, signers
from tests.helpers.stores import migrated_store


def _code(gate: LiveGate, tier: str) -> str | None:
    try:
        gate.check(tier)
    except ApiError as exc:
        return f"{exc.status} {exc.code}"
    return None


def test_a_revoked_signer_closes_the_decision_and_a_lost_store_fails_closed(
    database_url: str, tmp_path: Path
) -> None:
    with migrated_store(database_url) as (engine, sessions):
        people = signers(sessions, tmp_path)
        record = approve(sessions, at_level(example_decision("low-risk"), AccessLevel.API), people)

        async def go() -> None:
            gate = LiveGate(
                sessions, audit_log(sessions), record.id, DEFAULT_TIERS, poll_s=0.05, max_age_s=0.5
            )
            await gate.start()
            try:
                assert _code(gate, "public") is None
                assert _code(gate, "researcher") == "403 tier_not_allowed"
                await asyncio.to_thread(
                    SignerRegistry(sessions, audit_log(sessions)).revoke,
                    "Bob",
                    actor="test",
                    reason="key lost",
                )
                t0 = time.monotonic()
                while _code(gate, "public") is None:
                    assert time.monotonic() - t0 < 1.0, "revocation not seen within 1 s"
                    await asyncio.sleep(0.01)
                assert _code(gate, "public") == "403 decision_pending"
                assert "1 of 2 approvals" in (gate.snapshot.tier("public").reason or "")
                # The store loses the state the gateway polls: within max_age_s, 503.
                with engine.begin() as connection:
                    connection.execute(text("DROP TABLE approvals_state"))
                t1 = time.monotonic()
                while _code(gate, "public") != "503 decision_state_unavailable":
                    assert time.monotonic() - t1 < 2.0, "did not fail closed"
                    await asyncio.sleep(0.02)
                assert time.monotonic() - t1 >= 0.4  # it serves the last state until max_age_s
            finally:
                await gate.aclose()

        asyncio.run(go())


def test_start_fails_when_the_decision_is_not_in_the_store(tmp_path: Path) -> None:
    from releasegate.approvals import DecisionNotFoundError

    with migrated_store(f"sqlite:///{tmp_path / 'rg.db'}") as (_engine, sessions):

        async def go() -> None:
            gate = LiveGate(sessions, audit_log(sessions), "0123456789abcdef", DEFAULT_TIERS)
            with pytest.raises(DecisionNotFoundError):
                await gate.start()
            await gate.aclose()

        asyncio.run(go())
