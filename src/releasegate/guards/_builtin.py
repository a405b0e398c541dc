"""Factories of the built-in guards, registered under their names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from releasegate.guards._base import Guard
from releasegate.guards._keyword import KeywordGuard
from releasegate.guards._registry import register_guard

if TYPE_CHECKING:
    from releasegate.settings import Settings


def make_keyword(settings: Settings) -> Guard:
    """The phrase guard."""
    return KeywordGuard()


def make_default(settings: Settings) -> Guard:
    """The default guard of every tier."""
    return KeywordGuard(name="default")


def register_all() -> None:
    register_guard("keyword", make_keyword)
    register_guard("default", make_default)
