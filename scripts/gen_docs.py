"""Generate the reference pages that must never drift from the code.

- docs/settings.md from `releasegate.settings.Settings` (every setting, its variable and help)
- docs/cli.md from the Typer app (every command, argument and option with its help)

`python scripts/gen_docs.py` rewrites both; `--check` exits 1 when either is out of date
(tests/test_docs.py runs the check).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer.main

from releasegate._cli.main import app
from releasegate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def settings_markdown() -> str:
    lines = [
        "# Settings",
        "",
        "Every setting can be given as an environment variable (prefix `RELEASEGATE_`).",
        "Generated from `releasegate.settings.Settings` by `scripts/gen_docs.py`; do not edit.",
        "",
        "| variable | default | what it does |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "(unset)" if default is None else f"`{default}`"
        if "secret" in name or "token" in name or "key" in name:
            shown = "(unset)" if default is None else "(set)"
        help_text = (field.description or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `RELEASEGATE_{name.upper()}` | {shown} | {help_text} |")
    return "\n".join(lines) + "\n"


def _command_lines(command: Any, path: str, out: list[str]) -> None:
    # Duck-typed: recent Typer releases carry their own copy of click's classes.
    if getattr(command, "hidden", False):
        return
    out.append(f"## `{path}`")
    out.append("")
    help_text = (command.help or "").strip()
    if help_text:
        out.append(help_text.split("\f")[0].strip())
        out.append("")
    params = [p for p in command.params if p.name != "help"]
    if params:
        out.append("| parameter | help |")
        out.append("|---|---|")
        for param in params:
            if param.param_type_name == "argument":
                label = f"`{(param.metavar or param.name).upper()}`"
                text = getattr(param, "help", None) or ""
            else:
                label = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
                text = param.help or ""
            text = text.replace("|", "\\|").replace("\n", " ")
            out.append(f"| {label} | {text} |")
        out.append("")
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            _command_lines(command.commands[name], f"{path} {name}", out)


def cli_markdown() -> str:
    out = [
        "# Command-line reference",
        "",
        "Generated from the Typer app by `scripts/gen_docs.py`; do not edit.",
        "",
    ]
    _command_lines(typer.main.get_command(app), "releasegate", out)
    return "\n".join(out).rstrip() + "\n"


PAGES = {"docs/settings.md": settings_markdown, "docs/cli.md": cli_markdown}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for relative, render in PAGES.items():
        path = ROOT / relative
        text = render()
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(relative)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date (run python scripts/gen_docs.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
