"""The real bundled model for tests, converted once per test session into `<repo>/.cache/models`.

Registered as a pytest plugin by tests/conftest.py, so every test package can ask for
`bundled_settings`, `smollm2_dir`, `smollm2_backend`, `guarded_dir` or `guarded_backend`. The
session fixture also exports RELEASEGATE_MODEL_CACHE_DIR, so subprocesses started by tests
(the CLI, uvicorn servers) reuse the same conversion instead of converting again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasegate.settings import Settings

if TYPE_CHECKING:
    from releasegate.backends import HFBackend

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_CACHE = REPO_ROOT / ".cache" / "models"


@pytest.fixture(scope="session")
def bundled_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings whose model cache is the shared `<repo>/.cache/models` (CPU, offline)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RELEASEGATE_MODEL_CACHE_DIR", str(MODEL_CACHE))
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield Settings(
            data_dir=tmp_path_factory.mktemp("data"), model_cache_dir=MODEL_CACHE, device="cpu"
        )


@pytest.fixture(scope="session")
def smollm2_dir(bundled_settings: Settings) -> Path:
    """The converted SmolLM2-135M-Instruct directory (about 30 s the first time, then cached)."""
    from releasegate.backends import ensure_bundled_model

    return ensure_bundled_model("smollm2", bundled_settings)


@pytest.fixture(scope="session")
def guarded_dir(bundled_settings: Settings) -> Path:
    """The bundled model with the refusal adapter merged in."""
    from releasegate.backends import ensure_bundled_model

    return ensure_bundled_model("smollm2-guarded", bundled_settings)


@pytest.fixture(scope="session")
def smollm2_backend(smollm2_dir: Path) -> Iterator[HFBackend]:
    """One shared `HFBackend` on the bundled model (read-only use: do not close it)."""
    from releasegate.backends import HFBackend

    backend = HFBackend(smollm2_dir, name="bundled:smollm2", device="cpu")
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="session")
def guarded_backend(guarded_dir: Path) -> Iterator[HFBackend]:
    """One shared `HFBackend` on the guarded bundled model."""
    from releasegate.backends import HFBackend

    backend = HFBackend(guarded_dir, name="bundled:smollm2-guarded", device="cpu")
    yield backend
    asyncio.run(backend.aclose())


def cached_model_dir() -> str:
    """The shared cache path, for tests that start subprocesses themselves."""
    return os.fspath(MODEL_CACHE)
