"""The exported names are exactly the intended ones, each resolves, and `import releasegate`
stays light (no torch, transformers or FastAPI at import time)."""

import subprocess
import sys

import releasegate

INTENDED = {
    "__version__",
    "AccessLevel",
    "Benefit",
    "Component",
    "Condition",
    "Decision",
    "InputError",
    "ReleasePolicy",
    "RiskDomain",
    "RiskReport",
    "Settings",
    "Tier",
    "assess",
    "create_app",
    "decide",
    "load_backend",
    "load_policy",
    "load_report",
}


def test_exported_names_are_the_intended_ones() -> None:
    assert set(releasegate.__all__) == INTENDED
    assert set(releasegate.__all__) - {"__version__"} == set(releasegate._EXPORTS)


def test_every_exported_name_resolves() -> None:
    for name in releasegate.__all__:
        assert getattr(releasegate, name) is not None, name


def test_import_is_light() -> None:
    code = (
        "import sys, releasegate; "
        "mods = ('torch', 'transformers', 'fastapi', 'inspect_ai'); "
        "heavy = [m for m in mods if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
