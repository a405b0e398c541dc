"""Helpers shared by the command modules."""

from __future__ import annotations

from rich.console import Console


def console() -> Console:
    return Console()


def err_console() -> Console:
    return Console(stderr=True)
