"""`releasegate schema risk-report|decision|policy|stage-plan`: print a JSON Schema."""

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
    STAGE_PLAN = "stage-plan"


def schema_command(
    kind: Annotated[SchemaKind, typer.Argument(help="which format")],
) -> None:
    """Print the JSON Schema of a file format (the copies in docs/schemas/ match it)."""
    if kind is SchemaKind.STAGE_PLAN:
        from releasegate.stages import plan_schema_text

        sys.stdout.write(plan_schema_text())
        return
    sys.stdout.write(schema_text(kind.value))
