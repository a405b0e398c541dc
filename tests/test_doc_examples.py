"""The code blocks of README.md and docs/ run, so a renamed flag or field breaks a test, not a
reader (Sybil parses the Markdown).

- ```python blocks run in one namespace per page, in order;
- ```console / ```sh / ```bash blocks: each `$ command` line (with `\\` continuations) runs in
  bash, in order, and must exit 0; the lines after a command are its sample output, not checked.

Every page runs against a real `releasegate serve --dev --model echo:` process with its data in
a temporary directory (`RELEASEGATE_BASE_URL`, `RELEASEGATE_API_KEY` and `RELEASEGATE_DATA_DIR`
point at it), from a working directory holding the repository's examples/ and policies/.
A block that cannot run here (it needs a model, minutes, or ids from another run) is preceded by
`<!-- skip: next "why" -->`, where readers see the reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unittest
from collections.abc import Iterator
from pathlib import Path

import pytest
from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser, PythonCodeBlockParser, SkipParser

from tests.helpers.cli import run_subprocess
from tests.helpers.serve_proc import serve_echo

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = {"api.md", "cli.md", "settings.md", "architecture.md", "benchmarks.md"}


def _commands(source: str) -> list[str]:
    commands: list[str] = []
    current: str | None = None
    for line in source.splitlines():
        if current is not None:
            current += "\n" + line
        elif line.startswith("$ "):
            current = line[2:]
        if current is not None and not line.rstrip().endswith("\\"):
            commands.append(current)
            current = None
    return commands


class ShellParser(CodeBlockParser):
    def __init__(self, language: str, env: dict[str, str], cwd: Path) -> None:
        super().__init__(language=language)
        self.env = env
        self.cwd = cwd

    def evaluate(self, example: Example) -> str | None:
        source = str(example.parsed)
        # `$ command` lines; a block of bare lines (sh) is one script
        commands = _commands(source) if "$ " in source else [source]
        for command in commands:
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if proc.returncode != 0:
                return f"`{command}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        return None


@pytest.fixture(scope="module")
def doc_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    work = tmp_path_factory.mktemp("docs")
    for name in ("examples", "policies"):
        (work / name).symlink_to(ROOT / name)
    env = {
        "RELEASEGATE_DATA_DIR": str(work / "data"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "COLUMNS": "200",
    }
    with serve_echo(env) as (url, _startup_s):
        created = run_subprocess(
            ["keys", "create", "--tier", "developer", "--owner", "docs"], work, env=env
        )
        assert created.code == 0, created.err
        key = next(line for line in created.out.splitlines() if line.startswith("rg-"))
        env.update(RELEASEGATE_BASE_URL=url + "/v1", RELEASEGATE_API_KEY=key)
        yield {**os.environ, **env}, work


def _pages_with_code() -> list[str]:
    """Every page (but the generated ones) with a block of code meant for Python or a shell."""
    fence = re.compile(r"^```(python|console|sh|bash)\s*$", re.M)
    return [
        str(page.relative_to(ROOT))
        for page in PAGES
        if page.name not in GENERATED and fence.search(page.read_text(encoding="utf-8"))
    ]


@pytest.mark.parametrize("page", _pages_with_code())
def test_page_examples_run(page: str, doc_env: tuple[dict[str, str], Path]) -> None:
    env, work = doc_env
    parsers = [
        PythonCodeBlockParser(),
        ShellParser("console", env, work),
        ShellParser("sh", env, work),
        ShellParser("bash", env, work),
        SkipParser(),
    ]
    old = dict(os.environ)
    os.environ.update(env)  # the Python blocks read the same variables a reader would set
    try:
        document = Sybil(parsers=parsers).parse(ROOT / page)
        for example in document:
            try:
                example.evaluate()
            except unittest.SkipTest:  # a block marked skip, with its reason: not this test
                continue
    finally:
        os.environ.clear()
        os.environ.update(old)
