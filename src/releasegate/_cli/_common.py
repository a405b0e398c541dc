"""Helpers shared by the command modules."""

from __future__ import annotations

from rich.console import Console


def console() -> Console:
    return Console()


def err_console() -> Console:
    return Console(stderr=True)


def safe(value: object) -> str:
    """User-controlled text ready for Rich: markup escaped, control characters shown as
    escapes (`\\x1b`), so a name or answer cannot restyle or rewrite the terminal."""
    from rich.markup import escape

    text = str(value)
    text = "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )
    return escape(text)
