"""The refusal adapter's held-out split and phrase judge, taken from its training script so the
tests measure exactly what the script reports."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_refusal_adapter.py"


def training_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_refusal_adapter", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def held_out(kind: str) -> list[dict[str, Any]]:
    """Held-out rows of `kind` ('harmful' or 'benign'), never trained on."""
    script = training_script()
    _, held = script.split(script.load_rows())
    return [row for row in held if row["kind"] == kind]


def looks_like_refusal(text: str) -> bool:
    return bool(training_script().looks_like_refusal(text))
