"""Install a throwaway distribution for tests: a module and its .dist-info (with entry points)
in a directory that is then put on the path, as pip would lay out a real package."""

from __future__ import annotations

from pathlib import Path


def write_distribution(
    site: Path, name: str, version: str, modules: dict[str, str], entry_points: str
) -> Path:
    """Write `modules` (file name -> source) and `<name>-<version>.dist-info` into `site`.

    Args:
        site: the directory to put on `sys.path` (or `PYTHONPATH`).
        name: the distribution's name (`rg-thirdparty`).
        version: its version.
        modules: Python files to write beside it.
        entry_points: the text of `entry_points.txt` (`[group]\\nname = module:attr\\n`).

    Returns:
        `site`.
    """
    site.mkdir(parents=True, exist_ok=True)
    for filename, source in modules.items():
        (site / filename).write_text(source)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points)
    return site
