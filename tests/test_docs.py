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


def test_design_notes_are_numbered_once() -> None:
    import re

    notes = sorted(p.name for p in (ROOT / "docs" / "design").glob("*.md"))
    assert notes and all(re.fullmatch(r"\d{4}-[a-z0-9-]+\.md", n) for n in notes), notes
    numbers = [n[:4] for n in notes]
    assert len(set(numbers)) == len(numbers)


def test_relative_links_in_the_docs_resolve() -> None:
    import re

    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []
