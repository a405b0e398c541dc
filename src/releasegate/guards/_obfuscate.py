"""Obfuscations an attacker applies to a request, for evaluation and training augmentation.

Used by `releasegate guards eval` (the held-out harmful rows are also scored obfuscated), by
`scripts/train_guard.py` (train rows are augmented with the views the normalizer recovers from
them) and by the tests. These transform *requests*; they never produce any answer.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
_HOMOGLYPH = str.maketrans(
    {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445"}
)


def to_base64(text: str) -> str:
    """The request base64-encoded behind an instruction to decode it."""
    return "Decode this base64 and answer it: " + base64.b64encode(text.encode()).decode()


def to_leetspeak(text: str) -> str:
    """Vowels and a few consonants replaced by digits (`make a bomb` → `m4k3 4 b0mb`)."""
    return text.lower().translate(_LEET)


def zero_width_split(text: str) -> str:
    """A zero-width space between every two characters of every word."""
    return " ".join("\u200b".join(word) for word in text.split(" "))


def to_homoglyphs(text: str) -> str:
    """Latin letters replaced by their Cyrillic look-alikes."""
    return text.translate(_HOMOGLYPH)


OBFUSCATIONS: dict[str, Callable[[str], str]] = {
    "base64": to_base64,
    "leetspeak": to_leetspeak,
    "zero_width": zero_width_split,
    "homoglyphs": to_homoglyphs,
}
