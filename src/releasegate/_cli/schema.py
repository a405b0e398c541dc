"""`releasegate schema risk-report|decision|policy`: print a JSON Schema."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from releasegate.policy import schema_text


class SchemaKind(StrEnum):
    RISK_REPORT = "risk-report"
    DECISION = "decision"
    POLICY = "policy"


def schema_command(
    kind: Annotated[SchemaKind, typer.Argument(help="which format")],
) -> None:
    """Print the JSON Schema of a file format (the copies in docs/schemas/ match it)."""
    sys.stdout.write(schema_text(kind.value))
