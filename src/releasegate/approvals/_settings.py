"""Record decisions into the store the settings name (used by `releasegate decide`)."""

from __future__ import annotations

from releasegate.approvals._registry import DecisionRecord, DecisionRegistry
from releasegate.policy._decision import Decision
from releasegate.settings import Settings
from releasegate.store._open import open_store


def record_decision(decision: Decision, settings: Settings) -> DecisionRecord:
    """Store `decision` (idempotent) in the store of `settings`.

    Returns:
        The stored record (its `id` is what `releasegate decision approve` takes).
    """
    engine, sessions = open_store(settings)
    try:
        return DecisionRegistry(sessions).record(decision)
    finally:
        engine.dispose()
