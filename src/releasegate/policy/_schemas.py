"""JSON Schemas of the three file formats (kept in docs/schemas/, checked by a test)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from releasegate.evidence import RiskReport
from releasegate.policy._decision import Decision
from releasegate.policy._model import ReleasePolicy

SCHEMAS: dict[str, type[BaseModel]] = {
    "risk-report": RiskReport,
    "decision": Decision,
    "policy": ReleasePolicy,
}


def schema_text(kind: str) -> str:
    """The JSON Schema of `risk-report`, `decision` or `policy`, as stable, indented JSON."""
    model = SCHEMAS[kind]
    schema = model.model_json_schema(mode="validation")
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


__all__ = ["SCHEMAS", "schema_text"]
