"""Lending a built object under a name for the length of a block (a backend, a judge)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def lend(table: dict[str, T], key: str, value: T) -> Iterator[None]:
    """Put `value` in `table` under `key` while the block runs, then restore what was there."""
    previous = table.get(key)
    table[key] = value
    try:
        yield
    finally:
        if previous is None:
            table.pop(key, None)
        else:
            table[key] = previous


__all__ = ["lend"]
