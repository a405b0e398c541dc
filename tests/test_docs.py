"""Docs that cannot drift: the settings and CLI reference pages match the code."""

import subprocess
import sys
from pathlib import Path

from releasegate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_generated_reference_pages_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_setting_has_help_text() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []
