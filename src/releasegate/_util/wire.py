"""Field types for request bodies that cross the HTTP edge.

`Text` is a string that may not contain NUL (U+0000): PostgreSQL text columns refuse it, and
many tools truncate at it, so a prompt or an owner name holding one could be audited or stored
differently from what was served. Every text field of a request model uses it, so such a request
is a 400 naming the field before anything is written.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL characters (U+0000)")
    return value


def _refuse(value: Any) -> None:
    if value is None:
        return None
    raise PydanticCustomError("unsupported_parameter", "not supported by this gateway")


Text = Annotated[str, AfterValidator(_no_nul)]
"""A string without NUL characters."""

NonEmptyText = Annotated[str, Field(min_length=1), AfterValidator(_no_nul)]
"""A non-empty string without NUL characters."""

Unsupported = Annotated[
    None,
    BeforeValidator(_refuse),
    WithJsonSchema({"type": "null", "description": "not supported by this gateway"}),
]
"""A field that OpenAI's API has and this gateway refuses (400 `unsupported_parameter`)."""

__all__ = ["NonEmptyText", "Text", "Unsupported"]
