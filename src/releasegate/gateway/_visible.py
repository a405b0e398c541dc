"""The guard and the model see the same text: invisible characters in a request body.

The input guards judge each text as the normaliser sees it, with the characters a reader does
not see removed (`guards._normalize.visible`: zero-width and bidi controls, the Unicode tag
block, variation-selector runs, control characters). A model may still read those characters:
instructions spelled in tag characters (U+E0000–E007F) are invisible to a person and to the
guard, yet some models follow them ("ASCII smuggling"). So before the body is validated the
tier's `invisible_text` policy applies to every string in it:

- `strip` (default): the body is rewritten with each string's visible text; the guards judge,
  and the model receives, exactly that text.
- `refuse`: a body with any invisible character is refused (400 `invisible_text`, naming the
  field and the code point); nothing reaches the guards or the model.

A string with a NUL character is left as it is under either policy: validation refuses it
next (400 naming the field), so it never reaches a guard either.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from releasegate.gateway._errors import ApiError
from releasegate.gateway._validation import field_path
from releasegate.guards._normalize import visible

InvisiblePolicy = Literal["strip", "refuse"]


def _maybe_invisible(body: bytes) -> bool:
    # A JSON body of printable ASCII can only carry a control or non-ASCII character as an
    # escape: \uXXXX, \b or \f (\n, \t and \r are kept). A false alarm only costs a parse.
    return not body.isascii() or b"\\u" in body or b"\\b" in body or b"\\f" in body


def _first_hidden(text: str, seen: str) -> str:
    """The first character of `text` that `visible` removed (`seen` is the visible text)."""
    j = 0
    for ch in text:
        if j < len(seen) and seen[j] == ch:
            j += 1
        else:
            return f"U+{ord(ch):04X}"
    return "?"


def _walk(value: Any, loc: list[int | str], found: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            return value  # refused by validation next (400 naming the field), whatever the policy
        seen = visible(value)
        if seen != value:
            found.append((field_path(loc), _first_hidden(value, seen)))
        return seen
    if isinstance(value, list):
        return [_walk(v, [*loc, i], found) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _walk(v, [*loc, k], found) for k, v in value.items()}
    return value


def visible_body(body: bytes, policy: InvisiblePolicy) -> bytes:
    """The body as the guards and the model get it under `policy` (see the module docstring).

    A body that is not JSON is returned as it is: validation refuses it next.

    Raises:
        ApiError: 400 `invisible_text` under `refuse`, naming the field and the character.
    """
    if not body or not _maybe_invisible(body):
        return body
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    found: list[tuple[str, str]] = []
    cleaned = _walk(parsed, [], found)
    if not found:
        return body
    if policy == "refuse":
        path, char = found[0]
        raise ApiError(
            400,
            f"{path or 'the body'} holds an invisible character ({char}); this tier refuses "
            "text that its guards and a reader would not see. Remove zero-width, bidi, tag "
            "and control characters and resend",
            param=path or None,
            code="invisible_text",
        )
    return orjson.dumps(cleaned)


__all__ = ["InvisiblePolicy", "visible_body"]
