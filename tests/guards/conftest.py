"""Fixtures of the guard tests: the real bundled embedding model, loaded once per session."""

from __future__ import annotations

import pytest

from releasegate.guards import GuardChain, build_guards
from releasegate.guards._embedding import EmbeddingGuard
from releasegate.settings import Settings


@pytest.fixture(scope="session")
def default_guard() -> GuardChain:
    """The `default` guard (normalizer + keyword guard + embedding classifier)."""
    return build_guards(["default"], Settings())


@pytest.fixture(scope="session")
def embedding_guard(default_guard: GuardChain) -> EmbeddingGuard:
    guard = default_guard.guards[0]
    assert isinstance(guard, GuardChain)
    emb = guard.guards[1]
    assert isinstance(emb, EmbeddingGuard)
    return emb
