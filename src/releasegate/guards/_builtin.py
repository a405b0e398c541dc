"""Factories of the built-in guards, declared as entry points of the group `releasegate.guards`
in releasegate's pyproject.toml (exactly as a third party declares its own).

| name         | guard                                                                   |
|--------------|-------------------------------------------------------------------------|
| `default`    | normalizer + keyword guard + embedding classifier (a `GuardChain`)      |
| `keyword`    | normalizer + `KeywordGuard`                                             |
| `embedding`  | normalizer + `EmbeddingGuard` with the committed weights                |
| `llamaguard` | `LlamaGuard` at `RELEASEGATE_GUARD_LLAMAGUARD_URL`                      |
| `moderation` | `ModerationGuard` at `RELEASEGATE_GUARD_MODERATION_URL` (needs its key) |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from releasegate.guards._base import Guard, GuardError
from releasegate.guards._chain import GuardChain
from releasegate.guards._keyword import KeywordGuard
from releasegate.guards._normalize import shared_normalizer
from releasegate.settings import Settings

if TYPE_CHECKING:
    from releasegate.guards._embedding import EmbeddingGuard


def make_keyword(settings: Settings, normalize: Callable[[str], list[str]] | None = None) -> Guard:
    """The phrase guard."""
    return KeywordGuard(normalize=normalize)


def make_embedding(
    settings: Settings, normalize: Callable[[str], list[str]] | None = None
) -> EmbeddingGuard:
    """The embedding classifier (the encoder is loaded once per process)."""
    from releasegate.guards._embedding import EmbeddingGuard

    return EmbeddingGuard.from_file(
        settings.guard_weights, threshold=settings.guard_threshold, normalize=normalize
    )


def make_default(settings: Settings) -> Guard:
    """The default guard of every tier: keyword guard and embedding classifier together, sharing
    one normalizer (a request is normalized once, not once per guard)."""
    views = shared_normalizer()
    return GuardChain(
        [make_keyword(settings, views), make_embedding(settings, views)], name="default"
    )


def make_llamaguard(settings: Settings) -> Guard:
    """Llama Guard on an OpenAI-compatible server."""
    from releasegate.guards._llamaguard import LlamaGuard

    if not settings.guard_llamaguard_url:
        raise GuardError("the 'llamaguard' guard needs guard_llamaguard_url (its server's /v1 URL)")
    key = settings.guard_llamaguard_api_key
    return LlamaGuard(
        settings.guard_llamaguard_url,
        settings.guard_llamaguard_model,
        api_key=key.get_secret_value() if key else None,
        timeout_s=settings.guard_timeout_s,
    )


def make_moderation(settings: Settings) -> Guard:
    """A hosted moderation API."""
    from releasegate.guards._moderation import ModerationGuard

    key = settings.guard_moderation_api_key
    if key is None:
        raise GuardError("the 'moderation' guard needs guard_moderation_api_key")
    return ModerationGuard(
        settings.guard_moderation_url,
        api_key=key.get_secret_value(),
        model=settings.guard_moderation_model,
        timeout_s=settings.guard_timeout_s,
    )


__all__ = ["make_default", "make_embedding", "make_keyword", "make_llamaguard", "make_moderation"]
