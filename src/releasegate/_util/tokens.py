"""Bearer secrets an operator chooses (the admin token): generate strong ones, refuse weak ones.

A token is judged by what an attacker who guesses it would need: at least 32 random bytes' worth
of characters (`MIN_TOKEN_BITS`). The check cannot see how a string was made, so it estimates:
the length times the bits per character of the alphabet the token draws from (hex, or the union
of the classes it uses: lower case, upper case, digits, base64's symbols; printable ASCII for
anything else), and it refuses tokens that are obviously not random whatever their length (few
distinct characters, or one unit repeated). Words pass such estimates too easily; a passphrase
is better replaced by a generated token. A random 32-byte
token in hex (`openssl rand -hex 32`) or base64url (`releasegate admin-token`) always passes.
"""

from __future__ import annotations

import math
import secrets
import string
from collections import Counter

TOKEN_BYTES = 32
# 32 bytes is 256 bits; a random base64url token of 43 characters that happens to hold no digit
# or no '-'/'_' estimates a little under 256 with the alphabet method, so allow that much slack.
MIN_TOKEN_BITS = 240
MIN_DISTINCT = 12
MIN_SHANNON_BITS = 3.0  # per character; a random 64-character hex string measures about 3.8

_CLASSES: tuple[tuple[frozenset[str], int], ...] = (
    (frozenset(string.ascii_lowercase), 26),
    (frozenset(string.ascii_uppercase), 26),
    (frozenset(string.digits), 10),
    (frozenset("-_"), 2),
    (frozenset("+/="), 3),
)
_HEX = (frozenset(string.hexdigits.lower()), frozenset(string.hexdigits.upper()))

GENERATE_HINT = (
    "generate one with `releasegate admin-token` (or `openssl rand -hex 32`) and set "
    "RELEASEGATE_ADMIN_TOKEN to it"
)


def generate_token() -> str:
    """A fresh token of `TOKEN_BYTES` random bytes, base64url (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_problem(token: str) -> str | None:
    """Why `token` is too weak to guard the admin API, or None when it is strong enough.

    The reason never contains the token itself (it ends up in logs and terminals).
    """
    if not token:
        return "it is empty"
    if any(c.isspace() or not c.isprintable() for c in token) or not token.isascii():
        return "it holds whitespace, control or non-ASCII characters"
    chars = set(token)
    alphabet = _alphabet(chars)
    bits = len(token) * math.log2(alphabet)
    if bits < MIN_TOKEN_BITS:
        return (
            f"{len(token)} characters hold at most {bits:.0f} bits; at least {TOKEN_BYTES} "
            f"random bytes ({MIN_TOKEN_BITS}+ bits) are required"
        )
    if len(chars) < MIN_DISTINCT or _shannon_bits(token) < MIN_SHANNON_BITS:
        return "it uses too few distinct characters to be random"
    if _periodic(token):
        return "it repeats a shorter string"
    return None


def _alphabet(chars: set[str]) -> int:
    """The size of the smallest usual alphabet that holds these characters: hex, or the union
    of the character classes present (a symbol outside them counts as printable ASCII)."""
    if any(chars <= hex_digits for hex_digits in _HEX):
        return 16
    size = sum(n for members, n in _CLASSES if chars & members)
    known = frozenset().union(*(members for members, _ in _CLASSES))
    return 94 if chars - known else size


def _shannon_bits(text: str) -> float:
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _periodic(text: str) -> bool:
    """True when `text` is one shorter string repeated (whole or with a partial tail) and the
    unit is at most half of it."""
    for period in range(1, len(text) // 2 + 1):
        if all(text[i] == text[i - period] for i in range(period, len(text))):
            return True
    return False


__all__ = ["GENERATE_HINT", "MIN_TOKEN_BITS", "TOKEN_BYTES", "generate_token", "token_problem"]
