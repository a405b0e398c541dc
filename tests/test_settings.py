"""Settings are the one place the environment is read: every variable is a field (and so on
docs/settings.md), OPENAI_API_KEY included, as an alias of upstream_api_key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from releasegate.settings import Settings

SRC = Path(__file__).resolve().parent.parent / "src" / "releasegate"


def test_openai_api_key_is_honoured_and_ours_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELEASEGATE_UPSTREAM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai")
    key = Settings().upstream_api_key
    assert key is not None and key.get_secret_value() == "sk-from-openai"
    monkeypatch.setenv("RELEASEGATE_UPSTREAM_API_KEY", "sk-ours")
    key = Settings().upstream_api_key
    assert key is not None and key.get_secret_value() == "sk-ours"
    key = Settings(upstream_api_key="sk-code").upstream_api_key  # by name, in code
    assert key is not None and key.get_secret_value() == "sk-code"


def test_through_api_key_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELEASEGATE_THROUGH_API_KEY", "rg-through")
    key = Settings().through_api_key
    assert key is not None and key.get_secret_value() == "rg-through"


def test_library_code_reads_no_environment_variable_itself() -> None:
    reads = re.compile(r"os\.(getenv|environ\.get|environ\[)|\bgetenv\(")
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in SRC.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if reads.search(line)
    ]
    assert offenders == []


def test_library_code_builds_no_settings_outside_the_edges() -> None:
    # The edges: the CLI, the app factory, and the entry points Inspect calls by name.
    edges = {"_cli", "gateway/_app.py", "assess/_modelapi.py", "assess/_refusal.py"}
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        if not any(str(path.relative_to(SRC)).startswith(e) for e in edges)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "Settings()" in line and not line.lstrip().startswith(("#", '"', "`"))
    ]
    assert offenders == []
