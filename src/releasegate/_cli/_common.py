"""Helpers shared by the command modules."""

from __future__ import annotations

import re

from rich.console import Console
from rich.markup import escape

# C0 and C1 controls (ESC starts terminal escape sequences), DEL, and the invisible marks that
# reorder or hide text on screen (bidirectional overrides and isolates).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _code(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _visible(match: re.Match[str]) -> str:
    return _code(match.group())


def _shown(text: str) -> str:
    text = _UNSAFE.sub(_visible, text)
    if text.isprintable():
        return text
    # Other characters a terminal does not print (line separators, unassigned code points).
    return "".join(ch if ch.isprintable() or ch == " " else _code(ch) for ch in text)


def safe(value: object) -> str:
    """User-controlled text, made safe to print on a terminal through Rich.

    Control characters (an ANSI escape sequence in a key's owner, a carriage return that
    overwrites a line) and invisible reordering marks are shown as `\\x1b`-style escapes, and Rich
    markup in the text is escaped, so what is printed is exactly what is stored, visibly.
    """
    return escape(_shown(str(value)))


def plain(value: object) -> str:
    """`safe` for output that Rich does not interpret (`typer.echo`): controls escaped only."""
    return _shown(str(value))


def console() -> Console:
    return Console()


def err_console() -> Console:
    return Console(stderr=True)
